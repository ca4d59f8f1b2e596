"""Reading rosters and results files: CSV (UTF-8, UTF-8 BOM, GBK/GB18030) and spreadsheets.

Everything a school or institution uploads passes through :func:`read_table`, which
either returns the header and rows as strings or raises :class:`FileRejected` with a
message a nurse can act on. It never writes anything; callers validate rows.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from .rules.numbers import nfkc

SPREADSHEET_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".ods"}
TEXT_EXTENSIONS = {".csv", ".txt", ".tsv"}
ACCEPTED_EXTENSIONS = SPREADSHEET_EXTENSIONS | TEXT_EXTENSIONS
DEFAULT_MAX_ROWS = 2_000_000
# Exported rosters carry a title ("XX小学2026学年学生花名册"), a date or a blank line or
# several above the header: the header is looked for among this many first rows.
HEADER_SEARCH_ROWS = 10
MB = 1024 * 1024
# Members smaller than this are never refused for their compression ratio (a tiny
# styles.xml of repeated text compresses well and is harmless).
RATIO_CHECK_FROM = 1 * MB


class FileRejected(ValueError):
    """The whole file cannot be read; ``str(error)`` is the user-facing reason."""

    def __init__(self, message: str, *, key: str = "file", **params: object) -> None:
        super().__init__(message)
        self.key = key
        self.params = params


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """What an uploaded file may cost to read, checked before anything is parsed.

    An .xlsx or .ods is a ZIP: 1.2 MB can expand to a 1.26 GB sheet, which a spreadsheet
    reader holds in memory whole. So a ZIP's uncompressed size and each large member's
    compression ratio are bounded (as the archive declares them, and again while the
    members are actually decompressed, since a declaration can lie). Old .xls files and
    text files are bounded by their own size.
    """

    text_bytes: int = 20 * MB
    xls_bytes: int = 20 * MB
    uncompressed_bytes: int = 100 * MB
    compression_ratio: float = 100.0


@dataclass(frozen=True, slots=True)
class TableRow:
    line: int  # 1-based row number as a spreadsheet shows it (the header is row 1)
    values: list[str]

    def get(self, index: int | None) -> str:
        if index is None or index >= len(self.values):
            return ""
        return self.values[index]


@dataclass
class Table:
    headers: list[str]
    rows: list[TableRow]
    sheet_name: str | None = None
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)
    header_line: int = 1  # the row number (as a spreadsheet shows it) of the header


_BRACKETS = re.compile(r"[()\[\]{}<>（）【】［］《》〈〉*＊:：\s_\-·.]+")


def normalize_header(text: str) -> str:
    """Header text reduced for matching: width-folded, lower case, no spaces or brackets.

    "学籍号（必填）" and "学籍号" do not match each other (the bracketed part stays as
    letters), but "Student ID", "student_id" and "ＳＴＵＤＥＮＴ ＩＤ" all become "studentid".
    """
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    return _BRACKETS.sub("", text)


def normalize_cell(text: str) -> str:
    """Trim and fold full-width digits and letters (０１２ -> 012), keeping Chinese as is
    (and other digits such as ③, which the field parsers then refuse: rules.numbers)."""
    return nfkc(text).strip() if text else ""


@dataclass
class HeaderMap:
    columns: dict[str, int]  # canonical field -> column index
    unknown: list[str]
    duplicates: list[str]

    def index(self, field_name: str) -> int | None:
        return self.columns.get(field_name)


def map_headers(headers: list[str], aliases: dict[str, list[str]]) -> HeaderMap:
    """Map a file's headers to canonical field names using each field's accepted names."""
    lookup: dict[str, str] = {}
    for canonical, names in aliases.items():
        for name in [canonical, *names]:
            lookup[normalize_header(name)] = canonical
    columns: dict[str, int] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    for index, header in enumerate(headers):
        key = normalize_header(header)
        if not key:
            continue
        canonical = lookup.get(key)
        if canonical is None:
            unknown.append(header)
        elif canonical in columns:
            duplicates.append(header)
        else:
            columns[canonical] = index
    return HeaderMap(columns=columns, unknown=unknown, duplicates=duplicates)


def read_table(
    source: bytes | str | Path,
    filename: str | None = None,
    *,
    preferred_sheets: tuple[str, ...] = (),
    max_rows: int = DEFAULT_MAX_ROWS,
    header_aliases: dict[str, list[str]] | None = None,
    limits: UploadLimits | None = None,
) -> Table:
    """Read the first table of a CSV or spreadsheet into strings.

    ``source`` is the file's bytes or a path; ``filename`` (for bytes) tells the type.
    With ``header_aliases`` (canonical field -> accepted names), the header is the row
    among the first few that names the most known columns, so title rows above it are
    skipped (``Table.header_line`` says which row); without, the first non-blank row.
    Raises :class:`FileRejected` for empty, binary, unreadable or oversized files: more
    than ``max_rows`` rows (key ``too_many_rows``, with the file's ``rows``), or beyond
    ``limits`` (see :func:`check_upload`).
    """
    if isinstance(source, str | Path):
        path = Path(source)
        filename = filename or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FileRejected(f"Cannot read {path}: {exc.strerror}.", key="unreadable") from exc
    else:
        data = source
    filename = filename or ""
    extension = Path(filename).suffix.lower()
    if not data:
        raise FileRejected("The file is empty (0 bytes).", key="empty")
    kind = _sniff_kind(data, extension)
    if limits is not None:
        check_upload(data, filename, limits)
    known = _known_headers(header_aliases) if header_aliases else None
    if kind == "spreadsheet":
        if limits is not None and data[:4] == b"PK\x03\x04":
            _check_actual_expansion(data, limits)
        table = _read_spreadsheet(data, preferred_sheets, max_rows, known)
    elif kind == "text":
        table = _read_text(data, max_rows, known)
    elif kind == "web_page":
        raise FileRejected(
            f"{filename} is a web page (HTML) with a spreadsheet's name, not a spreadsheet. "
            "Open it in Excel or WPS, save it as .xlsx or .csv and upload that file.",
            key="web_page",
        )
    else:
        raise FileRejected(
            f"{filename or 'This file'} is not a CSV or spreadsheet file "
            "(accepted: .csv, .txt, .xlsx, .xls, .ods).",
            key="type",
        )
    if not any(normalize_header(h) for h in table.headers):
        raise FileRejected(
            "The first row must hold the column headers, but it is empty.", key="no_header"
        )
    return table


def check_upload(data: bytes, filename: str, limits: UploadLimits) -> int:
    """Refuse a file too costly to read, from its size and a ZIP's directory alone.

    Cheap (no decompression, no parsing), so a request can run it on any upload. Returns
    the bytes a reader would have to handle: the uncompressed size of a ZIP's members,
    the file's size otherwise (callers decide from it where to parse the file).
    """
    kind = _sniff_kind(data, Path(filename or "").suffix.lower())
    if data[:4] == b"PK\x03\x04" and kind == "spreadsheet":
        return _check_zip_directory(data, limits)
    limit, what = (
        (limits.xls_bytes, "xls") if kind == "spreadsheet" else (limits.text_bytes, "text")
    )
    if len(data) > limit:
        raise FileRejected(
            f"The file is {len(data) / MB:.1f} MB; a {what} file may have at most "
            f"{limit / MB:g} MB.",
            key="file_too_large",
            size_mb=round(len(data) / MB, 1),
            max_mb=round(limit / MB, 3),
        )
    return len(data)


def _expansion_error(size: int, limits: UploadLimits) -> FileRejected:
    return FileRejected(
        f"The spreadsheet expands to more than {limits.uncompressed_bytes / MB:g} MB when "
        f"opened ({size / MB:.0f} MB); it cannot be a school roster.",
        key="uncompressed_too_large",
        size_mb=round(size / MB),
        max_mb=round(limits.uncompressed_bytes / MB, 1),
    )


def _ratio_error(ratio: float, limits: UploadLimits) -> FileRejected:
    return FileRejected(
        f"The spreadsheet is compressed {ratio:.0f} times (at most "
        f"{limits.compression_ratio:g} is accepted); it cannot be a school roster.",
        key="compression_ratio",
        ratio=round(ratio),
        max_ratio=round(limits.compression_ratio),
    )


def _check_zip_directory(data: bytes, limits: UploadLimits) -> int:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return len(data)  # a damaged archive: the reader explains
    total = sum(m.file_size for m in members)
    if total > limits.uncompressed_bytes:
        raise _expansion_error(total, limits)
    for member in members:
        if member.file_size >= RATIO_CHECK_FROM:
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > limits.compression_ratio:
                raise _ratio_error(ratio, limits)
    return total


def _check_actual_expansion(data: bytes, limits: UploadLimits) -> None:
    """Inflate every member, counting, and stop at the limits.

    A ZIP's directory may understate sizes (a forged archive), and readers differ in
    whether they trust it: this inflates the compressed bytes themselves, a megabyte at
    a time, so the check costs at most the limit in time and a megabyte in memory.
    """
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # damaged: the reader explains
    total = 0
    for member in members:
        size = _inflated_size(data, member, limits.uncompressed_bytes - total)
        total += size
        if total > limits.uncompressed_bytes:
            raise _expansion_error(total, limits)
        if size >= RATIO_CHECK_FROM:
            ratio = size / max(member.compress_size, 1)
            if ratio > limits.compression_ratio:
                raise _ratio_error(ratio, limits)


def _inflated_size(data: bytes, member, cap: int) -> int:
    """The real size of a member's content, counted up to just past ``cap``."""
    import struct
    import zipfile

    if member.compress_type == zipfile.ZIP_STORED:
        return member.compress_size
    if member.compress_type != zipfile.ZIP_DEFLATED:
        return member.file_size  # spreadsheets use deflate; others are left to the reader
    offset = member.header_offset
    if data[offset : offset + 4] != b"PK\x03\x04":
        return member.file_size
    name_length, extra_length = struct.unpack("<HH", data[offset + 26 : offset + 30])
    start = offset + 30 + name_length + extra_length
    raw = memoryview(data)[start : start + member.compress_size]
    inflater = zlib.decompressobj(-15)
    size = 0
    try:
        for position in range(0, len(raw), MB):
            pending = bytes(raw[position : position + MB])
            while pending:
                size += len(inflater.decompress(pending, MB))
                if size > cap:
                    return size
                pending = inflater.unconsumed_tail
    except zlib.error:
        return size  # damaged: the reader explains
    return size


def _sniff_kind(data: bytes, extension: str) -> str:
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "spreadsheet"
    sample = data[:8192]
    if extension in SPREADSHEET_EXTENSIONS:
        # Web-based student systems often save a web page (an HTML table) or plain
        # tab-separated text under an .xls name; Excel opens both with a warning. Text
        # is read as the text it is; a web page is not a roster file.
        if sample.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            return "web_page"
        if extension == ".xls" and b"\x00" not in sample and _is_text(sample):
            return "text"
        return "spreadsheet"  # let calamine explain what is wrong with it
    if extension and extension not in TEXT_EXTENSIONS:
        return "other"
    if b"\x00" in sample:
        return "other"
    return "text"


def _is_text(sample: bytes) -> bool:
    """Whether the start of a file is UTF-8 or GB18030 text (a binary file is neither)."""
    for encoding in ("utf-8", "gb18030"):
        try:
            sample.decode(encoding)
        except UnicodeDecodeError as exc:
            if len(sample) == 8192 and exc.start >= len(sample) - 4:
                return True  # a multi-byte character cut by the end of the sample
            continue
        return True
    return False


def _encodings(data: bytes) -> list[tuple[str, int]]:
    """Encodings to try, in order, with the number of leading bytes to skip (a BOM)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return [("utf-8", 3)]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [("utf-16", 0)]
    return [("utf-8", 0), ("gb18030", 0)]


_ENCODING_NAMES = {("utf-8", 3): "utf-8-sig"}


def _known_headers(aliases: dict[str, list[str]]) -> dict[str, str]:
    """Normalised header text -> canonical field, for finding the header row."""
    return {
        normalize_header(name): canonical
        for canonical, names in aliases.items()
        for name in (canonical, *names)
    }


def _header_row_index(records: list[list], start: int, known: dict[str, str] | None) -> int:
    """Index of the header among the first rows: the one naming the most known fields.

    A title row names none (or one, by accident), so the first row naming two or more
    distinct fields wins ties; without any such row the first non-blank row is the header
    and the caller reports the missing columns.
    """
    if not known:
        return start
    best, best_hits = start, 1
    seen = 0
    for index in range(start, len(records)):
        cells = records[index]
        if not any(_cell_text(c) for c in cells):
            continue
        hits = len({known[k] for c in cells if (k := normalize_header(_cell_text(c))) in known})
        if hits > best_hits:
            best, best_hits = index, hits
        seen += 1
        if seen >= HEADER_SEARCH_ROWS:
            break
    return best


def _delimiter(text: str) -> str:
    """The separator of a CSV: the one most used on any of the first lines.

    The first line may be a title ("XX小学花名册" alone, or followed by commas when Excel
    saved it), so every one of the first lines has a say, not only the first.
    """
    lines = text[:65536].split("\n", HEADER_SEARCH_ROWS + 1)[: HEADER_SEARCH_ROWS + 1]
    best, best_count = ",", 0
    for candidate in (",", "\t", ";", "，"):
        count = max((line.count(candidate) for line in lines), default=0)
        if count > best_count:
            best, best_count = candidate, count
    return best


def _read_text(data: bytes, max_rows: int, known: dict[str, str] | None = None) -> Table:
    """Read CSV text as a stream: the bytes are decoded as the rows are read, so the file
    is never held a second time as one string, and rows past ``max_rows`` are counted,
    not kept. UTF-8 is tried first; a file that is not UTF-8 is read again as GB18030."""
    encodings = _encodings(data)
    if encodings[0][0] != "utf-16" and b"\x00" in data:
        raise FileRejected("This file contains binary data; it is not a CSV file.", key="type")
    for position, (encoding, skip) in enumerate(encodings):
        last = position == len(encodings) - 1
        head = data[skip : skip + 65536]
        try:
            first = head.decode(encoding, errors="strict" if not last else "replace")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                continue
            first = head.decode(encoding, errors="ignore")  # a character cut at 64 KB
        delimiter = _delimiter(first)
        stream = io.TextIOWrapper(
            io.BufferedReader(io.BytesIO(memoryview(data)[skip:])), encoding=encoding, newline=""
        )
        reader = csv.reader(stream, delimiter=delimiter)
        try:
            records = _take(reader, max_rows)
        except UnicodeDecodeError:
            if last:
                break
            continue
        except csv.Error as exc:
            raise FileRejected(f"The CSV file is malformed: {exc}.", key="csv") from exc
        if records and records[0] and records[0][0].startswith("\ufeff"):
            records[0][0] = records[0][0][1:]
        return _table_from_records(
            records, encoding=_ENCODING_NAMES.get((encoding, skip), encoding), known=known
        )
    raise FileRejected(
        "The file's text encoding is not UTF-8 or GBK/GB18030. Save it as "
        "'CSV UTF-8' from Excel and upload it again.",
        key="encoding",
    )


def _take(records, max_rows: int) -> list[list[str]]:
    out: list[list[str]] = []
    for record in records:
        out.append(record)
        if len(out) > max_rows + 1:
            # Count the rest without keeping it, so the message can say how many.
            rows = len(out) - 1 + sum(1 for _ in records)
            raise FileRejected(
                f"The file has more than {max_rows:,} rows ({rows:,}); split it into "
                "smaller files.",
                key="too_many_rows",
                max_rows=max_rows,
                rows=rows,
            )
    return out


def _table_from_records(
    records: list[list],
    *,
    encoding: str | None = None,
    sheet_name: str | None = None,
    known: dict[str, str] | None = None,
) -> Table:
    # Leading blank rows are skipped; title rows too when the known headers are given.
    start = 0
    while start < len(records) and not any(_cell_text(c) for c in records[start]):
        start += 1
    if start >= len(records):
        raise FileRejected("The file has no rows.", key="empty")
    start = _header_row_index(records, start, known)
    headers = [normalize_cell(_cell_text(c)) for c in records[start]]
    rows = []
    for offset, record in enumerate(records[start + 1 :], start=start + 2):
        # normalize_cell(_cell_text(c)), inlined for text cells: a 100,000-row roster
        # has a million cells, and two calls per cell were a third of the reading time.
        values = [
            (nfkc(c).strip() if c else "") if type(c) is str
            else normalize_cell(_cell_text(c))
            for c in record
        ]  # fmt: skip
        if not any(values):
            continue  # blank lines between pupils are not errors
        rows.append(TableRow(line=offset, values=values))
    return Table(
        headers=headers,
        rows=rows,
        sheet_name=sheet_name,
        encoding=encoding,
        header_line=start + 1,
    )


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person sees: 20150302 not 20150302.0, dates ISO."""
    if type(value) is str:  # every CSV cell: skip the checks below (large files)
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta | time):
        return str(value)
    return str(value)


def _check_zip_holds_spreadsheet(data: bytes) -> None:
    """A ZIP that is not a workbook (a .docx, a zipped folder renamed .xlsx) gets its own
    message instead of calamine's "damaged or password-protected" guess."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # a damaged archive: calamine explains
    if any(n.endswith(("workbook.xml", "workbook.bin")) for n in names) or "content.xml" in names:
        return
    raise FileRejected(
        "This file is a ZIP archive, not a spreadsheet. Save the table as .xlsx or .csv "
        "and upload it again.",
        key="not_spreadsheet",
    )


def _read_spreadsheet(
    data: bytes,
    preferred_sheets: tuple[str, ...],
    max_rows: int,
    known: dict[str, str] | None = None,
) -> Table:
    from python_calamine import CalamineWorkbook

    if data[:4] == b"PK\x03\x04":
        _check_zip_holds_spreadsheet(data)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise FileRejected(
            "The spreadsheet could not be opened; it may be damaged or password-protected. "
            f"({exc})",
            key="spreadsheet",
        ) from exc
    names = list(workbook.sheet_names)
    if not names:
        raise FileRejected("The spreadsheet has no sheets.", key="empty")
    wanted = {normalize_header(n) for n in preferred_sheets}
    sheet_name = next((n for n in names if normalize_header(n) in wanted), names[0])
    try:
        sheet = workbook.get_sheet_by_name(sheet_name)
        records = sheet.to_python(skip_empty_area=False, nrows=max_rows + 2)
    except Exception as exc:
        raise FileRejected(
            f"The sheet {sheet_name!r} could not be read ({exc}).", key="spreadsheet"
        ) from exc
    if len(records) > max_rows + 1:
        rows = max(sheet.total_height - 1, max_rows + 1)
        raise FileRejected(
            f"The file has more than {max_rows:,} rows ({rows:,}); split it into smaller files.",
            key="too_many_rows",
            max_rows=max_rows,
            rows=rows,
        )
    return _table_from_records(records, sheet_name=sheet_name, known=known)
