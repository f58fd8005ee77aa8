"""MusicXML <-> canonical score-language tokens (docs/codec.md).

``read_score`` turns partwise MusicXML (``.musicxml``/``.xml``/``.mxl``) into canonical model tokens,
counting whatever the language cannot express; ``write_score`` writes tokens back as MusicXML 4.0;
``validate_xsd`` checks a document against the vendored MusicXML 4.0 XSD, offline.
"""

from grammar.musicxml.reader import ReadResult, read_score
from grammar.musicxml.safe_xml import MusicXMLError
from grammar.musicxml.schema import validate_xsd
from grammar.musicxml.writer import write_human, write_score
from grammar.token_tree import TokenSequenceError

__all__ = [
    "MusicXMLError", "ReadResult", "TokenSequenceError",
    "read_score", "validate_xsd", "write_human", "write_score",
]
