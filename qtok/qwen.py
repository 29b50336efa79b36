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


# -- the added tokens of each generation ------------------------------------------------
# All generations share the 151,643 regular tokens, the pattern and NFC; they
# differ in the tokens added after them.  Each entry: (text, id, special).
# "special" is Hugging Face's flag: decode(..., skip_special_tokens=True)
# drops those tokens and keeps the others (<tool_call>, <think>).

_CHAT = [("<|endoftext|>", 151643, True), ("<|im_start|>", 151644, True),
         ("<|im_end|>", 151645, True)]

#: Qwen-1 (Qwen-1.8B/7B/14B/72B): the three, then <|extra_0|> .. <|extra_204|>.
QWEN1_ADDED = _CHAT + [(f"<|extra_{i}|>", 151646 + i, True) for i in range(205)]

#: Qwen1.5 and Qwen2: the three.
QWEN2_ADDED = list(_CHAT)

#: Qwen2.5 (and -Coder, -VL): the vision and box tokens are special; the tool
#: and fill-in-the-middle tokens are not.
QWEN2_5_ADDED = QWEN2_ADDED + [
    (text, 151646 + i, True) for i, text in enumerate([
        "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
        "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
        "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"])
] + [
    (text, 151657 + i, False) for i, text in enumerate([
        "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
        "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"])
]

#: Qwen3 (and -2507, -Coder, -Next): Qwen2.5's, then the tool-response and
#: thinking tokens, not special.
QWEN3_ADDED = QWEN2_5_ADDED + [
    ("<tool_response>", 151665, False), ("</tool_response>", 151666, False),
    ("<think>", 151667, False), ("</think>", 151668, False),
]

#: How each generation treats added tokens written in the text.  Hugging Face
#: (the reference from Qwen1.5 on) finds them in the raw text and normalizes
#: only the stretches between them; Qwen-1's own tokenizer normalized the
#: whole text first and then looked for them.
ADDED_TOKENS_IN_RAW_TEXT = "raw"
ADDED_TOKENS_AFTER_NFC = "normalized"

#: name -> (added tokens, where they are found).
QWEN_GENERATIONS = {
    "qwen1": (QWEN1_ADDED, ADDED_TOKENS_AFTER_NFC),
    "qwen2": (QWEN2_ADDED, ADDED_TOKENS_IN_RAW_TEXT),
    "qwen2.5": (QWEN2_5_ADDED, ADDED_TOKENS_IN_RAW_TEXT),
    "qwen3": (QWEN3_ADDED, ADDED_TOKENS_IN_RAW_TEXT),
}
