# Type stubs for qtok._nfc, the native NFC check (qtok/_nfc.pyx).

#: The Unicode version of the check's table (this build's unicodedata).
UNIDATA_VERSION: str
#: Whether the native check describes the Unicode version unicodedata uses.
NATIVE_CHECK: bool

def is_nfc(text: str, fast: bool = ...) -> bool: ...
def to_nfc(text: str) -> str: ...

# A hook for the tests.
def _is_inert(c: int) -> bool: ...
