"""The one PDF renderer: every document the app makes (the signed-proposal certificate
now, invoices and credit notes next) is a :class:`Document` of blocks laid out here,
with one house layout and the fonts shipped in ``portal/fonts/``.

A document module builds blocks (headings, paragraphs, label/value rows, tables, an
image) from its own data and translations; this module knows no domain. fpdf2 is
pure Python (no system libraries, unlike WeasyPrint), embeds subsets of TrueType
fonts, and so renders Romanian ș ț, Spanish ñ and Italian accents on a fresh machine.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

FONTS = Path(__file__).resolve().parent.parent / "fonts"
FAMILY = "DejaVuSans"
# Block text of a page: A4 less 15 mm margins.
TEXT_WIDTH = 180.0


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Paragraph:
    text: str
    size: float = 9.5
    bold: bool = False
    muted: bool = False


@dataclass(frozen=True)
class Fields:
    """Label/value rows (a label column, then the value)."""

    rows: list[tuple[str, str]]
    label_width: float = 55.0


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]
    widths: list[float]  # relative column widths
    align: list[str] = field(default_factory=list)  # "L", "R" or "C" per column
    size: float = 8.5


@dataclass(frozen=True)
class Image:
    png: bytes
    width: float = 70.0  # mm
    caption: str = ""


@dataclass(frozen=True)
class PageBreak:
    pass


@dataclass
class Document:
    """What to render: metadata, the footer line and the blocks, in order."""

    title: str
    issuer: str  # the business named in the header of every page
    blocks: list = field(default_factory=list)
    footer: str = ""
    subject: str = ""
    keywords: str = ""  # plain ASCII, kept readable in the file (a verifier finds ids there)
    language: str = "en"


class _Page(FPDF):
    def __init__(self, document: Document):
        super().__init__(format="A4")
        self.document = document
        self.set_margins(15, 18, 15)
        self.set_auto_page_break(True, margin=18)
        self.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))

    def header(self):
        self.set_font(FAMILY, "B", 9)
        self.set_text_color(90, 90, 90)
        self.cell(0, 6, self.document.issuer, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(200, 200, 200)
        self.line(15, self.get_y(), 195, self.get_y())
        self.ln(3)
        self.set_text_color(0, 0, 0)

    def footer(self):
        self.set_y(-13)
        self.set_font(FAMILY, "", 7)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{self.document.footer}    {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def render(document: Document) -> bytes:
    """The document as PDF bytes (not yet sealed)."""
    pdf = _Page(document)
    pdf.set_title(document.title)
    pdf.set_subject(document.subject or document.title)
    pdf.set_author(document.issuer)
    pdf.set_creator("Porchlight")
    pdf.set_keywords(document.keywords)
    pdf.set_lang(document.language)
    pdf.alias_nb_pages()
    pdf.add_page()
    for block in document.blocks:
        _draw(pdf, block)
    return bytes(pdf.output())


def _draw(pdf: _Page, block) -> None:
    if isinstance(block, Heading):
        size = {1: 15, 2: 11.5}.get(block.level, 10)
        pdf.ln(2 if block.level > 1 else 0)
        pdf.set_font(FAMILY, "B", size)
        pdf.multi_cell(0, size * 0.5, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)
    elif isinstance(block, Paragraph):
        pdf.set_font(FAMILY, "B" if block.bold else "", block.size)
        if block.muted:
            pdf.set_text_color(90, 90, 90)
        pdf.multi_cell(0, block.size * 0.48, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1.5)
    elif isinstance(block, Fields):
        pdf.set_font(FAMILY, "", 9)
        with pdf.table(
            col_widths=(block.label_width, TEXT_WIDTH - block.label_width),
            first_row_as_headings=False,
            borders_layout="HORIZONTAL_LINES",
            line_height=4.6,
            padding=1.2,
        ) as table:
            for label, value in block.rows:
                row = table.row()
                pdf.set_font(FAMILY, "B", 8.5)
                row.cell(label)
                pdf.set_font(FAMILY, "", 8.5)
                row.cell(value)
        pdf.ln(2)
    elif isinstance(block, Table):
        pdf.set_font(FAMILY, "", block.size)
        align = tuple(block.align) if block.align else None
        with pdf.table(
            col_widths=tuple(block.widths),
            text_align=align or "LEFT",
            headings_style=_headings_style(),
            line_height=block.size * 0.5,
            padding=1.0,
        ) as table:
            heading = table.row()
            for text in block.headers:
                heading.cell(text)
            for values in block.rows:
                row = table.row()
                for text in values:
                    row.cell(text)
        pdf.ln(2)
    elif isinstance(block, Image):
        if pdf.will_page_break(block.width / 2.5 + 10):
            pdf.add_page()
        pdf.image(io.BytesIO(block.png), w=block.width)
        if block.caption:
            pdf.set_font(FAMILY, "", 8)
            pdf.multi_cell(0, 4, block.caption, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    elif isinstance(block, PageBreak):
        pdf.add_page()
    else:  # pragma: no cover - a programming error, not input
        raise TypeError(f"not a PDF block: {block!r}")


def _headings_style():
    from fpdf.fonts import FontFace

    return FontFace(family=FAMILY, emphasis="BOLD", fill_color=(236, 236, 236))
