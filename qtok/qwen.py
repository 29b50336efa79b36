"""The facts of the Qwen tokenizer that qtok implements: its pattern, its
special tokens, and the vocabulary file qtok ships.

Constants only, as tiktoken keeps its encodings' constants apart from its
loaders; qtok.load reads the file, qtok.registry names the encodings.
"""

#: The pre-tokenization pattern of Qwen-1 through Qwen3.  qtok's scanner
#: implements this pattern natively; it is kept as a string for tiktoken
#: compatibility (``Encoding._pat_str``) and to recognise it in tokenizer files.
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

#: The special tokens of Qwen1.5 and Qwen2, after the 151,643 regular tokens.
QWEN_SPECIAL_TOKENS = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
}

#: The vocabulary qtok ships: qwen.tiktoken as published in the dashscope
#: 2.0.2 wheel (and, identically, by Qwen2 under Apache-2.0).
QWEN_FILE = "qwen.tiktoken"
QWEN_SHA256 = "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186"
