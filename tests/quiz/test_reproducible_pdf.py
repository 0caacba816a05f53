"""``reproducible_pdf``: the run-dependent stamps Chromium writes into a PDF are normalized in place.

No browser needed: the bytes below have the shape Chromium 150 writes (a tagged PDF's structure
elements named after renderer DOM node ids, an /IDTree of them, print dates).
"""

from quiz_bank.browser import reproducible_pdf


def _pdf(first_node: int, stamp: bytes) -> bytes:
    a, b = (f"node{n:08d}".encode() for n in (first_node, first_node + 2))
    return (b"%PDF-1.4\n80 0 obj\n<</Type /StructElem\n/S /TH\n/ID (" + a + b")>>\nendobj\n"
            b"81 0 obj\n<</Type /StructElem\n/S /TD\n/ID (" + b + b")>>\nendobj\n"
            b"90 0 obj\n<</Names [(" + a + b") 80 0 R (" + b + b") 81 0 R]\n/Limits [(" + a + b") (" + b
            + b")]>>\nendobj\n1 0 obj\n<</CreationDate (D:" + stamp + b"+00'00')\n/ModDate (D:" + stamp
            + b"+00'00')>>\nendobj\n")


def test_node_ids_and_dates_do_not_depend_on_the_run() -> None:
    """The renderer's node counter had made 14 or 15 nodes before the page: the same page, other ids."""
    one, other = _pdf(14, b"20251130070001"), _pdf(15, b"20251130070959")
    assert one != other
    assert reproducible_pdf(one) == reproducible_pdf(other)
    assert len(reproducible_pdf(one)) == len(one)  # in place: the xref offsets stay valid


def test_the_id_tree_stays_sorted_and_consistent() -> None:
    out = reproducible_pdf(_pdf(146, b"20251130070001"))
    assert b"/Names [(node00000001) 80 0 R (node00000002) 81 0 R]" in out
    assert b"/Limits [(node00000001) (node00000002)]" in out
    assert b"/ID (node00000001)" in out
    assert b"(D:19800101000000+00'00')" in out
