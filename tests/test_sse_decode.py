"""The shared SSE decoder: the same blocks however the bytes are cut into chunks."""

from __future__ import annotations

import pytest

from rais._sse_decode import Block, SSEBlockDecoder

BODY = (
    ": ping\n\n"
    "retry: 250\n\n"
    'id: 1\ndata: {"type":"text","text":"héllo 👩‍💻"}\n\n'
    ":keep-alive\n\n"
    'id: 2\ndata:{"type":"text","text":"世界"}\n\n'
    'id: 3\ndata: {"type":"done"}\n\n'
).encode()


def fields(block: Block) -> tuple[object, ...]:
    return (block.event_id, block.data, block.comments, block.retry, block.spaced)


def decode_in_pieces(raw: bytes, cuts: list[int], *, lenient: bool = False) -> list[Block]:
    decoder = SSEBlockDecoder(lenient=lenient)
    blocks: list[Block] = []
    for start, end in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        blocks += decoder.feed(raw[start:end])
    tail, rest = decoder.end()
    assert rest == ""
    return blocks + tail


def test_fields_of_each_block() -> None:
    blocks = SSEBlockDecoder().feed(BODY)
    assert [fields(b) for b in blocks] == [
        (None, [], ["ping"], None, True),
        (None, [], [], 250, True),
        ("1", ['{"type":"text","text":"héllo 👩‍💻"}'], [], None, True),
        (None, [], ["keep-alive"], None, True),
        ("2", ['{"type":"text","text":"世界"}'], [], None, False),  # no space after 'data:'
        ("3", ['{"type":"done"}'], [], None, True),
    ]
    assert blocks[2].text == 'id: 1\ndata: {"type":"text","text":"héllo 👩‍💻"}'
    assert [b.is_event for b in blocks] == [False, False, True, False, True, True]


@pytest.mark.parametrize("lenient", [False, True])
def test_every_single_cut_gives_the_same_blocks(lenient: bool) -> None:
    whole = [fields(b) for b in SSEBlockDecoder().feed(BODY)]
    for cut in range(1, len(BODY)):  # includes cuts inside each multi-byte character
        assert [fields(b) for b in decode_in_pieces(BODY, [cut], lenient=lenient)] == whole, cut


def test_byte_by_byte_gives_the_same_blocks() -> None:
    whole = [(b.text, fields(b)) for b in SSEBlockDecoder().feed(BODY)]
    pieces = decode_in_pieces(BODY, list(range(1, len(BODY))))
    assert [(b.text, fields(b)) for b in pieces] == whole


def test_a_character_cut_in_the_middle_is_kept_whole() -> None:
    raw = 'data: {"text":"é"}\n\n'.encode()
    cut = raw.index("é".encode()) + 1  # between the two bytes of é
    decoder = SSEBlockDecoder()
    assert decoder.feed(raw[:cut]) == []
    assert decoder.pending == 'data: {"text":"'
    assert decoder.feed(raw[cut:])[0].data == ['{"text":"é"}']


def test_strict_decoder_splits_only_on_lf_like_the_browser() -> None:
    crlf = BODY.replace(b"\n", b"\r\n")
    decoder = SSEBlockDecoder()
    assert decoder.feed(crlf) == []  # a browser client never sees a block of this stream
    blocks, rest = decoder.end()
    assert blocks == [] and rest == crlf.decode()


def test_lenient_decoder_reads_crlf_and_keeps_the_raw_text() -> None:
    crlf = BODY.replace(b"\n", b"\r\n")
    lf = [fields(b) for b in SSEBlockDecoder().feed(BODY)]
    for cut in range(1, len(crlf)):  # a cut inside \r\n\r\n must not split or lose a block
        blocks = decode_in_pieces(crlf, [cut], lenient=True)
        assert [fields(b) for b in blocks] == lf, cut
    blocks = SSEBlockDecoder(lenient=True).feed(crlf)
    assert blocks[5].text == 'id: 3\r\ndata: {"type":"done"}'  # the CRs, for framing checks


def test_lenient_decoder_accepts_mixed_line_ends() -> None:
    raw = b'data: {"a":1}\r\n\ndata: {"b":2}\n\r\ndata: {"c":3}\n\n'
    blocks = SSEBlockDecoder(lenient=True).feed(raw)
    assert [b.data for b in blocks] == [['{"a":1}'], ['{"b":2}'], ['{"c":3}']]


def test_a_partial_trailing_block_is_pending_then_returned_at_the_end() -> None:
    decoder = SSEBlockDecoder()
    blocks = decoder.feed(b'id: 1\ndata: {"type":"text","text":"a"}\n\nid: 2\ndata: {"ty')
    assert [b.event_id for b in blocks] == ["1"]
    assert decoder.pending == 'id: 2\ndata: {"ty'
    tail, rest = decoder.end()
    assert tail == [] and rest == 'id: 2\ndata: {"ty'
    assert decoder.pending == ""


def test_a_cut_off_character_at_the_end() -> None:
    raw = 'data: "é'.encode()[:-1]
    strict = SSEBlockDecoder()
    strict.feed(raw)
    with pytest.raises(UnicodeDecodeError):
        strict.end()
    lenient = SSEBlockDecoder(errors="replace")
    lenient.feed(raw)
    assert lenient.end() == ([], 'data: "\ufffd')


def test_blocks_carry_the_arrival_of_the_chunk_that_completed_them() -> None:
    decoder = SSEBlockDecoder()
    assert decoder.feed(b"data: 1\n\ndata: 2", arrival=1.0)[0].arrival == 1.0
    assert decoder.feed(b"\n\n", arrival=2.5)[0].arrival == 2.5


def test_several_data_lines_and_repeated_ids() -> None:
    (block,) = SSEBlockDecoder().feed(b"id: 1\nid: 2\ndata: a\ndata:  b\nevent: x\nretry: soon\n\n")
    assert block.event_id == "2"  # the last id line wins
    assert block.data == ["a", " b"]  # only one space is dropped
    assert block.retry is None  # not a number: ignored


def test_extra_blank_lines_are_split_the_way_the_browser_splits() -> None:
    decoder = SSEBlockDecoder()
    blocks = decoder.feed(b"data: a\n\n\ndata: b\n\n\n\ndata: c\n\n")
    # "a\n\n\nb".split("\n\n") in JavaScript: ["a", "\nb"]; empty blocks carry nothing.
    assert [b.text for b in blocks] == ["data: a", "\ndata: b", "", "data: c"]
    assert [b.data for b in blocks] == [["a"], ["b"], [], ["c"]]
