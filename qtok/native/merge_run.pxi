# merge_run: BPE on a long run of one repeated character, in run-length form.
#
# A long piece of one repeated byte ("aaaa...", a run of spaces, of newlines,
# of dashes) is common in real text and is the worst case of the loops above:
# every pair has the same rank, so they touch every position many times.
# Its parts are all copies of that byte, so the state of the merge is fully
# described by the lengths of the parts, and those come in runs: "m parts of
# k bytes".  merge_run replays tiktoken's loop on that run-length form:
#
#   * each step finds the leftmost pair of lowest rank, as the loop does --
#     inside a run of k-byte parts (rank of 2k bytes) or where two runs meet;
#   * a pair where two runs meet is joined alone, as the loop would;
#   * inside a run of m parts the loop would join parts 1+2, then 3+4, ...
#     left to right, provided nothing it creates on the way outranks them:
#     the pairs (2k, k), (2k, 2k) and (left neighbour, 2k).  When their ranks
#     (of 3k, 4k and a+2k bytes) are all higher, the whole run becomes m//2
#     parts of 2k bytes (and one of k if m is odd) in one step; otherwise
#     only parts 1+2 are joined, and the search starts again.
#
# Every step is thus one step, or a provably uninterrupted sequence of
# steps, of the exact loop.  The work is bounded by the piece's length; a
# piece whose run list keeps growing is handed back to the general loops.
#
# The same replay serves a run of one repeated character of 2-4 bytes ("中中中",
# "——", "……"), counting lengths in characters, when units_join_first() shows
# that BPE turns every copy into one token before it joins anything across
# copies: from then on the piece is a run of that one token.

cdef enum:
    RUN_MAX_RUNS = 256    # a longer run list: give up (the general loop takes over)
    RUN_GAVE_UP = 1


cdef struct Run:
    uint32_t len         # bytes in each part of this run
    uint32_t count       # parts in this run


cdef inline size_t char_run_unit(const uint8_t* p, size_t n) noexcept nogil:
    """The length of p[:n]'s first character (1-4 bytes) if p[:n] is that
    character repeated, else 0.  (Pieces start on a character.)"""
    cdef size_t unit
    if 0x80 <= p[0] < 0xC2:               # not the first byte of a character
        return 0
    unit = 1 if p[0] < 0x80 else (2 if p[0] < 0xE0 else (3 if p[0] < 0xF0 else 4))
    # p has period unit exactly when it equals itself shifted by unit.
    if n < unit or n % unit or memcmp(p, p + unit, n - unit) != 0:
        return 0
    return unit


cdef inline uint32_t run_rank(const Tables* t, const uint8_t* p, size_t n, size_t unit,
                              uint64_t* memo, size_t k) noexcept nogil:
    """Rank of the token of k units (the first unit bytes of p, repeated),
    memoised, or NOT_FOUND."""
    if k * unit > n or k * unit > t.max_token_len:
        return NOT_FOUND
    if memo[k] == 0:
        # Stored + 1 in 64 bits: 0 means "not looked up yet", and NOT_FOUND
        # is remembered too.
        memo[k] = <uint64_t>lookup(t, p, k * unit) + 1
    return <uint32_t>(memo[k] - 1)


cdef bint units_join_first(const Tables* t, const uint8_t* p, size_t unit) noexcept nogil:
    """For a piece of one repeated character of unit (2..4) bytes, at least
    two long: whether BPE first makes every copy of the character one token,
    before joining anything across copies -- so that what follows is a run of
    one token, which merge_run can replay on lengths counted in characters.

    That holds when the character alone merges into one token, and every
    pair that could form across a boundary -- a part that ends a copy, in
    any state of that merge, then a part that starts the next -- outranks
    every join made inside a copy (or spells no token)."""
    cdef uint8_t start[4]                 # the parts of one copy: start[i] .. start[i+1]
    cdef size_t n_parts = unit, i, best_i = 0, e, s
    cdef uint32_t r, best, r_max = 0
    cdef uint32_t ends_at_start = 1 << 1  # bit e: some part spans [0, e)
    cdef uint32_t starts_at_end = 1 << (unit - 1)   # bit s: some part spans [s, unit)
    for i in range(unit):
        start[i] = <uint8_t>i
    while n_parts > 1:
        best = NOT_FOUND
        for i in range(n_parts - 1):
            e = start[i + 2] if i + 2 < n_parts else unit
            r = lookup(t, p + start[i], e - start[i])
            if r < best:
                best, best_i = r, i
        if best == NOT_FOUND:
            return False                  # the character stays in pieces
        if best > r_max:
            r_max = best
        for i in range(best_i + 1, n_parts - 1):
            start[i] = start[i + 1]
        n_parts -= 1
        e = start[best_i + 1] if best_i + 1 < n_parts else unit
        if start[best_i] == 0:
            ends_at_start |= 1 << e
        if e == unit:
            starts_at_end |= 1 << start[best_i]
    for s in range(unit):
        if starts_at_end & (1 << s):
            for e in range(1, unit + 1):
                if ends_at_start & (1 << e):
                    # the suffix p[s:unit] then the prefix p[0:e] of the next copy
                    r = lookup(t, p + s, unit - s + e)
                    if r != NOT_FOUND and r <= r_max:
                        return False
    return True


cdef int merge_run(const Tables* t, const uint8_t* p, size_t n, size_t unit,
                   TokenVec* out) noexcept nogil:
    """BPE of a piece of one repeated unit -- a byte, or a character that
    units_join_first() has shown becomes one token first -- on run lengths
    counted in units.  Returns 0, -1 (out of memory) or RUN_GAVE_UP, in
    which case out is untouched."""
    cdef Run runs[RUN_MAX_RUNS + 2]
    cdef uint64_t memo[MAX_TOKEN_BYTES + 1]   # see run_rank; k <= max_token_len
    cdef size_t nr = 1, i, j, at, work = 0, budget = n / unit + 4096
    cdef uint32_t best, r, k, m, tok
    cdef bint inside
    if n >= 0xFFFFFFFFULL:
        return RUN_GAVE_UP
    memset(memo, 0, sizeof(memo))
    runs[0].len = 1
    runs[0].count = <uint32_t>(n / unit)
    while True:
        # The leftmost pair of lowest rank: where runs i-1 and i meet, then
        # inside run i, in that order along the piece.
        best = NOT_FOUND
        at = 0
        inside = False
        for i in range(nr):
            if i > 0:
                r = run_rank(t, p, n, unit, memo, runs[i - 1].len + runs[i].len)
                if r < best:
                    best, at, inside = r, i, False
            if runs[i].count >= 2:
                r = run_rank(t, p, n, unit, memo, 2 * <size_t>runs[i].len)
                if r < best:
                    best, at, inside = r, i, True
        if best == NOT_FOUND:
            break
        work += nr
        if work > budget or nr + 2 > RUN_MAX_RUNS:
            return RUN_GAVE_UP
        if inside:
            # Run at becomes two: parts of 2k bytes, then what is left of k.
            k = runs[at].len
            m = runs[at].count
            memmove(&runs[at + 2], &runs[at + 1], (nr - at - 1) * sizeof(Run))
            if ((m < 3 or run_rank(t, p, n, unit, memo, 3 * <size_t>k) > best)
                    and (m < 4 or run_rank(t, p, n, unit, memo, 4 * <size_t>k) > best)
                    and (at == 0 or run_rank(t, p, n, unit, memo, runs[at - 1].len + 2 * <size_t>k) > best)):
                # All pairs of the run, left to right, uninterrupted.
                runs[at].len, runs[at].count = 2 * k, m // 2
                runs[at + 1].len, runs[at + 1].count = k, m % 2
            else:
                # Its first pair only.
                runs[at].len, runs[at].count = 2 * k, 1
                runs[at + 1].len, runs[at + 1].count = k, m - 2
            nr += 1
        else:
            # The last part of run at-1 with the first of run at.
            memmove(&runs[at + 1], &runs[at], (nr - at) * sizeof(Run))
            runs[at].len = runs[at - 1].len + runs[at + 1].len   # run at moved to at+1
            runs[at].count = 1
            runs[at - 1].count -= 1
            runs[at + 1].count -= 1
            nr += 1
        # Drop empty runs and join neighbours of equal length.
        j = 0
        for i in range(nr):
            if runs[i].count == 0:
                continue
            if j > 0 and runs[j - 1].len == runs[i].len:
                runs[j - 1].count += runs[i].count
            else:
                runs[j] = runs[i]
                j += 1
        nr = j
    for i in range(nr):
        tok = run_rank(t, p, n, unit, memo, runs[i].len)
        for j in range(runs[i].count):
            if push(out, tok) < 0:
                return -1
    return 0
