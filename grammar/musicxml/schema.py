"""Validate MusicXML against the vendored W3C MusicXML 4.0 XSD, offline.

``musicxml.xsd`` imports ``xml.xsd`` and ``xlink.xsd`` by their http://www.musicxml.org URLs; a
local resolver maps every such URL (per ``schema/catalog.xml``) to the vendored copy, and the parser
has the network switched off, so validation never leaves the machine.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lxml import etree

from grammar.musicxml.safe_xml import MusicXMLError, xml_parser

SCHEMA_DIR = Path(__file__).parent / "schema"
_URL_PREFIXES = ("http://www.musicxml.org/xsd/", "https://www.musicxml.org/xsd/")


class _LocalResolver(etree.Resolver):
    """Resolve the schema's imports to files in ``SCHEMA_DIR``; refuse anything else."""

    def resolve(self, system_url, public_id, context):  # noqa: D102 (lxml API)
        if system_url is None:
            return None
        name = system_url
        for prefix in _URL_PREFIXES:
            if system_url.startswith(prefix):
                name = system_url[len(prefix):]
        local = SCHEMA_DIR / Path(name).name
        if local.is_file() and local.parent == SCHEMA_DIR:
            return self.resolve_filename(str(local), context)
        raise MusicXMLError(f"XSD validation: refusing to fetch {system_url!r} (not in the vendored schema)")


@functools.lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    """Compile the XSD once per process (it takes ~0.3 s)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(_LocalResolver())
    doc = etree.parse(str(SCHEMA_DIR / "musicxml.xsd"), parser)
    return etree.XMLSchema(doc)


def validate_xsd(xml: bytes | etree._Element) -> list[str]:
    """Validate a MusicXML document against MusicXML 4.0.

    Args:
        xml: the document as bytes, or an already parsed root element.

    Returns:
        One message per schema violation ("line N: ..."); empty when valid. Bytes that are not
        well-formed XML give a single message.
    """
    if isinstance(xml, (bytes, bytearray)):
        try:
            root = etree.fromstring(bytes(xml), parser=xml_parser())
        except etree.XMLSyntaxError as err:
            return [f"not well-formed XML: {err}"]
    else:
        root = xml
    schema = _schema()
    if schema.validate(root):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
