"""EXI grammar compiler: official V2G XSDs -> plain-data grammar tables.

Regenerate the committed tables (XSDs from the PyPI package `iso15118`, folder
`iso15118/shared/schemas`):

    python -m tools.exigen --schemas DIR --out dissectors/exi/generated
"""

from __future__ import annotations

# short name -> (root XSD relative to the schema folder, target namespace)
SCHEMA_SETS: dict[str, tuple[str, str]] = {
    "appHand": ("V2G_CI_AppProtocol.xsd", "urn:iso:15118:2:2010:AppProtocol"),
    "din": ("din_spec/V2G_CI_MsgDef.xsd", "urn:din:70121:2012:MsgDef"),
    "iso2": ("iso15118_2/V2G_CI_MsgDef.xsd", "urn:iso:15118:2:2013:MsgDef"),
    "iso20_CommonMessages": ("iso15118_20/V2G_CI_CommonMessages.xsd",
                             "urn:iso:std:iso:15118:-20:CommonMessages"),
    "iso20_AC": ("iso15118_20/V2G_CI_AC.xsd", "urn:iso:std:iso:15118:-20:AC"),
    "iso20_DC": ("iso15118_20/V2G_CI_DC.xsd", "urn:iso:std:iso:15118:-20:DC"),
    "iso20_WPT": ("iso15118_20/V2G_CI_WPT.xsd", "urn:iso:std:iso:15118:-20:WPT"),
    "iso20_ACDP": ("iso15118_20/V2G_CI_ACDP.xsd", "urn:iso:std:iso:15118:-20:ACDP"),
    # xmldsig alone: SignedInfo is EXI-encoded with it (as a fragment) to sign and verify
    "xmldsig": ("xmldsig-core-schema.xsd", "http://www.w3.org/2000/09/xmldsig#"),
}

# Element particles with a bounded maxOccurs above this compile as unbounded loops, to match
# the reference codec (its precompiled ISO 15118-2 grammar does so: the vectors at maximum
# array sizes need loops for maxOccurs 16, 20, 24 and exact unrolling for 2, 3, 4, 6, 8). Schema sets not listed are unrolled exactly.
LOOP_ABOVE: dict[str, int] = {"iso2": 8}
