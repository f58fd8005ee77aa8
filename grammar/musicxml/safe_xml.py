"""Safe loading of MusicXML: plain ``.musicxml``/``.xml`` and compressed ``.mxl`` (zip).

Why so careful: scores come from users and the internet. The parser never fetches a DTD or any
other URL, never expands entities (no "billion laughs"), refuses huge trees, and a ``.mxl`` is
decompressed with hard limits on total size and compression ratio (no zip bombs). Every failure is a
``MusicXMLError`` whose message names the file and the problem.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from pathlib import Path

from lxml import etree

MAX_XML_BYTES = 64 * 1024 * 1024  # largest uncompressed score we accept
MAX_ZIP_TOTAL = 64 * 1024 * 1024  # all members of a .mxl together, uncompressed
MAX_ZIP_RATIO = 200  # uncompressed / compressed, per member; real scores stay far below
MAX_ZIP_MEMBERS = 1000


class MusicXMLError(ValueError):
    """A score that cannot be read: unreadable, unsafe, or not (partwise) MusicXML."""


def xml_parser() -> etree.XMLParser:
    """An lxml parser that touches nothing outside the bytes it is given."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )


def parse_xml(data: bytes, name: str) -> etree._Element:
    """Parse XML bytes safely and return the root element.

    Raises:
        MusicXMLError: the bytes are empty, truncated or not well-formed.
    """
    if not data.strip():
        raise MusicXMLError(f"{name}: empty file")
    if len(data) > MAX_XML_BYTES:
        raise MusicXMLError(f"{name}: {len(data)} bytes of XML is more than the {MAX_XML_BYTES} accepted")
    try:
        root = etree.fromstring(data, parser=xml_parser())
    except etree.XMLSyntaxError as err:
        msg = str(err)
        truncated = "end of data" in msg or "EndTag" in msg
        hint = "truncated or not well-formed XML" if truncated else "not well-formed XML"
        raise MusicXMLError(f"{name}: {hint} ({msg})") from None
    if root is None:
        raise MusicXMLError(f"{name}: no XML document")
    return root


def _safe_member(path: str, name: str) -> str:
    norm = posixpath.normpath(path)
    if not path or path.startswith(("/", "\\")) or ":" in path.split("/")[0] or norm.startswith(".."):
        raise MusicXMLError(f"{name}: unsafe rootfile path {path!r} in META-INF/container.xml")
    return norm


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, name: str) -> bytes:
    """Read one member, stopping as soon as it exceeds what its header or the budget allows."""
    limit = min(budget, info.file_size)
    out = io.BytesIO()
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            out.write(chunk)
            if out.tell() > limit:
                raise MusicXMLError(f"{name}: member {info.filename} decompresses beyond its stated size "
                                    "or the limit")
    return out.getvalue()


def unzip_mxl(data: bytes, name: str) -> bytes:
    """Return the MusicXML rootfile of a compressed ``.mxl`` archive.

    Raises:
        MusicXMLError: not a zip, a zip bomb, no container or rootfile, or an unsafe path.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise MusicXMLError(f"{name}: not a valid .mxl (zip) archive ({err})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise MusicXMLError(f"{name}: {len(infos)} zip members (more than {MAX_ZIP_MEMBERS}): refusing")
        total = sum(i.file_size for i in infos)
        if total > MAX_ZIP_TOTAL:
            raise MusicXMLError(f"{name}: archive would decompress to {total} bytes "
                                f"(limit {MAX_ZIP_TOTAL}): refusing")
        for i in infos:
            if i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1) and i.file_size > 1 << 20:
                raise MusicXMLError(f"{name}: member {i.filename} has compression ratio "
                                    f"{i.file_size // max(i.compress_size, 1)} (zip bomb?): refusing")
        by_name = {i.filename: i for i in infos}
        container = by_name.get("META-INF/container.xml")
        if container is None:
            raise MusicXMLError(f"{name}: .mxl has no META-INF/container.xml (missing rootfile)")
        croot = parse_xml(_read_member(zf, container, MAX_ZIP_TOTAL, name), f"{name}:META-INF/container.xml")
        rootfiles = [e for e in croot.iter()
                     if isinstance(e.tag, str) and etree.QName(e).localname == "rootfile"]
        path = rootfiles[0].get("full-path") if rootfiles else None
        if not path:
            raise MusicXMLError(f"{name}: META-INF/container.xml names no rootfile")
        member = by_name.get(_safe_member(path, name))
        if member is None:
            raise MusicXMLError(f"{name}: rootfile {path!r} is missing from the archive")
        try:
            return _read_member(zf, member, MAX_ZIP_TOTAL, name)
        except (zipfile.BadZipFile, zlib.error) as err:
            raise MusicXMLError(f"{name}: corrupt archive member {path} ({err})") from None


def load_root(source: str | Path | bytes, name: str | None = None) -> tuple[etree._Element, str]:
    """Load a score from a path or bytes; returns (root element, display name).

    ``.mxl`` archives are recognised by their zip signature, not by the file name.

    Raises:
        MusicXMLError: unreadable file or unsafe/invalid content.
    """
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        name = name or "<bytes>"
    else:
        path = Path(source)
        name = name or str(path)
        try:
            # Bounded read, not stat: /dev/zero or a pipe reports size 0 and never ends.
            with path.open("rb") as fh:
                data = fh.read(MAX_XML_BYTES + 1)
            if len(data) > MAX_XML_BYTES:
                raise MusicXMLError(f"{name}: file larger than {MAX_XML_BYTES} bytes")
        except OSError as err:
            raise MusicXMLError(f"{name}: cannot read ({err.strerror or err})") from None
    if data[:4] == b"PK\x03\x04":
        data = unzip_mxl(data, name)
    return parse_xml(data, name), name


def load_partwise(source: str | Path | bytes, name: str | None = None) -> tuple[etree._Element, str]:
    """Like ``load_root`` but insists on a ``<score-partwise>`` document."""
    root, name = load_root(source, name)
    tag = etree.QName(root).localname
    if tag == "score-timewise":
        raise MusicXMLError(f"{name}: timewise MusicXML is not supported: convert to partwise")
    if tag != "score-partwise":
        raise MusicXMLError(f"{name}: not MusicXML (root element <{tag}>, expected <score-partwise>)")
    return root, name
