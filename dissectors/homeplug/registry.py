"""The MME registry: one record per MMTYPE family, the only place an MME is declared.

An `MmeSpec` holds the base MMTYPE (variant bits cleared), its name, the vendor OUI
for vendor-specific MMEs, and one `construct` layout per variant (REQ/CNF/IND/RSP).
Everything else is derived from this table: the dispatch keys, the display names
(`CM_SLAC_PARM.REQ`), the secret fields to mask, and the compiled programs the fast
decoders run. Sources: HomePlug AV 1.1 / Green PHY 1.1 specifications, ISO 15118-3
Annex A (SLAC MMEs), Qualcomm Atheros open-plc-utils (vendor MMEs, OUI 00:B0:52).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import construct as cs

from chargescope.dissectors.homeplug.fields import (
    bits,
    count_of,
    gp_tlvs,
    group,
    hexbytes,
    hexrest,
    hexvar,
    layout,
    length_of,
    mac,
    nibbles,
    switch,
    text_length_of,
    textrest,
    textvar,
    u8,
    u8list,
    u16,
    u32,
    u64,
)

ETHERTYPE_HOMEPLUG = 0x88E1
OUI_QUALCOMM = 0x00B052
OUI_ST = 0x0080E1
VENDOR_RANGE = range(0xA000, 0xC000)  # vendor-specific MMEs carry an OUI after the header
MANUFACTURER_RANGE = range(0x8000, 0xA000)  # manufacturer-specific: OUI too

OUI_NAMES: dict[int, str] = {
    0x00B052: "Qualcomm Atheros",
    0x0080E1: "STMicroelectronics",
    0x0016E8: "Lumissil Microsystems",
    0x644D70: "dSPACE",
}


class Variant(enum.IntEnum):
    """The two low bits of MMTYPE."""

    REQ = 0
    CNF = 1
    IND = 2
    RSP = 3


@dataclass(frozen=True, slots=True)
class MmeSpec:
    base: int  # MMTYPE with the two variant bits cleared
    name: str  # e.g. "CM_SLAC_PARM"
    layouts: dict[Variant, cs.Struct]
    oui: int | None = None  # vendor-specific MMEs: the OUI that owns this MMTYPE
    mmv: int | None = None  # layouts valid only for this MME version (None: any)
    secrets: tuple[str, ...] = ()  # field names masked unless --show-secrets
    summary: str = ""
    extra_ouis: tuple[int, ...] = field(default=())  # also seen with these OUIs
    # length fields the layout fixes: variant -> (field, octets it must say)
    declared: dict[Variant, tuple[str, int]] = field(default_factory=dict)


def _empty() -> cs.Struct:
    return layout()


def _raw() -> cs.Struct:
    """A vendor MME whose body layout is not published: named, body kept as hex."""
    return layout(hexrest("body"))


_APP_SEC = (u8("application_type"), u8("security_type"))
_RUN_ID = 8
_ID17 = 17  # PEV ID / EVSE ID / SOURCE_ID / RESP_ID / SenderID: 17 octets
_NID = 7
_KEY = 16
_HASH_KEY = 384
_KEY_SIZES = {0: _KEY, 1: _KEY, 2: _KEY, 3: _KEY, 4: _HASH_KEY}  # DAK, NMK, NEK, TEK, hash key


def _key_field(name: str, selector: str) -> cs.Construct:
    return switch(name, selector, {k: hexbytes(name, n) for k, n in _KEY_SIZES.items()})


def _match_var_field(*, cnf: bool) -> tuple[cs.Construct, ...]:
    members = (
        hexbytes("pev_id", _ID17), mac("pev_mac"),
        hexbytes("evse_id", _ID17), mac("evse_mac"),
        hexbytes("run_id", _RUN_ID), hexbytes("reserved", 8),
    )
    if cnf:
        members += (hexbytes("nid", _NID), u8("reserved2"), hexbytes("nmk", _KEY))
    return members


_CIPHER = {1: u16("cipher_suite")}

# CM_SLAC_USER_DATA (HomePlug GP 1.1 / ISO 15118-3 user data): a broadcast TLV (2-octet
# TLV header, then one octet: 0 unicast, 1 AVLN broadcast, 2 multi-network broadcast)
# followed by TLVs until a zero header. TLV header: 16 bits little-endian, length in
# bits 0-8, type in bits 9-15; type 0x1F is vendor defined and opens with OUI (3 octets)
# and a subtype octet. Source: Wireshark packet-homeplug-av.c
# (dissect_homeplug_av_gp_cm_slac_user_data, HOMEPLUG_AV_GP_CM_SLAC_USER_DATA_TLV_*).
# Wireshark compares the unshifted masked type with 0x1F (so it would never split the
# OUI off a vendor TLV) and, in 4.0, passes the type mask as a field length and throws
# after the first TLV header: tshark agreement covers the broadcast value and the first
# TLV type only (tests/test_homeplug_tshark_vendor.py).
_SLAC_USER_DATA = layout(
    *bits("broadcast_tlv", 3, ("broadcast_tlv_length", 9), ("broadcast_tlv_type", 7), ("broadcast", 8)),
    gp_tlvs("tlvs"),
)

# --- HomePlug AV / Green PHY public MMEs -----------------------------------------------
_PUBLIC: tuple[MmeSpec, ...] = (
    MmeSpec(0x0014, "CC_DISCOVER_LIST", {
        Variant.REQ: _empty(),
        Variant.CNF: layout(
            count_of("num_stations", "stations"),
            group("stations", "num_stations", mac("mac"), u8("tei"), u8("same_network"),
                  u8("snid"), u8("cco_capability"), u8("signal_level"), u8("average_ble")),
            count_of("num_networks", "networks"),
            group("networks", "num_networks", hexbytes("nid", _NID), u8("snid"),
                  u8("hybrid_mode"), u8("num_beacon_slots"), u8("coordinating_status"),
                  u16("beacon_offset")),
        ),
    }, summary="Central coordination discovery list"),
    MmeSpec(0x6004, "CM_ENCRYPTED_PAYLOAD", {
        Variant.IND: layout(u8("peks"), u8("avln_status"), u8("pid"), u16("prn"), u8("pmn"),
                            hexbytes("iv", 16), u16("length"), hexrest("encrypted_payload")),
        Variant.RSP: layout(u8("result"), u8("pid"), u16("prn")),
    }, summary="Encrypted payload (key distribution)"),
    MmeSpec(0x6008, "CM_SET_KEY", {
        Variant.REQ: layout(u8("key_type"), hexbytes("my_nonce", 4), hexbytes("your_nonce", 4),
                            u8("pid"), u16("prn"), u8("pmn"), u8("cco_capability"),
                            hexbytes("nid", _NID), u8("new_eks"), _key_field("new_key", "key_type")),
        Variant.CNF: layout(u8("result"), hexbytes("my_nonce", 4), hexbytes("your_nonce", 4),
                            u8("pid"), u16("prn"), u8("pmn"), u8("cco_capability")),
    }, secrets=("new_key",), summary="Set the network membership key in the local modem"),
    MmeSpec(0x600C, "CM_GET_KEY", {
        Variant.REQ: layout(u8("request_type"), u8("requested_key_type"), hexbytes("nid", _NID),
                            hexbytes("my_nonce", 4), u8("pid"), u16("prn"), u8("pmn"),
                            switch("hash_key", "requested_key_type",
                                   {4: hexbytes("hash_key", _HASH_KEY)})),
        Variant.CNF: layout(u8("result"), u8("requested_key_type"), hexbytes("my_nonce", 4),
                            hexbytes("your_nonce", 4), hexbytes("nid", _NID), u8("eks"),
                            u8("pid"), u16("prn"), u8("pmn"),
                            _key_field("key", "requested_key_type")),
    }, secrets=("key", "hash_key"), summary="Get a key from the modem"),
    MmeSpec(0x601C, "CM_AMP_MAP", {
        Variant.REQ: layout(u16("amlen"), nibbles("amdata", "amlen")),
        Variant.CNF: layout(u8("res_type")),
    }, summary="Amplitude map"),
    MmeSpec(0x6020, "CM_BRG_INFO", {
        Variant.REQ: _empty(),
        Variant.CNF: layout(u8("bsf"), u8("btei"), count_of("num_stas", "stations"),
                            group("stations", "num_stas", mac("mac"))),
    }, summary="Bridge information"),
    MmeSpec(0x6038, "CM_NW_INFO", {
        Variant.REQ: _empty(),
        Variant.CNF: layout(
            count_of("num_avlns", "networks"),
            group("networks", "num_avlns", hexbytes("nid", _NID), u8("snid"), u8("tei"),
                  u8("sta_role"), mac("cco_mac"), u8("access"), u8("num_coord_networks")),
        ),
    }, summary="Network information"),
    MmeSpec(0x6048, "CM_NW_STATS", {
        Variant.REQ: _empty(),
        Variant.CNF: layout(
            count_of("num_stas", "stations"),
            group("stations", "num_stas", mac("da"), u8("avg_phy_dr_tx"), u8("avg_phy_dr_rx")),
        ),
    }, summary="Network statistics"),
    MmeSpec(0x6064, "CM_SLAC_PARM", {
        Variant.REQ: layout(*_APP_SEC, hexbytes("run_id", _RUN_ID),
                            # secure SLAC (security_type 1) appends the offered cipher suites
                            switch("cipher_suites", "security_type", {1: layout(
                                count_of("cipher_suite_set_size", "suites"),
                                group("suites", "cipher_suite_set_size", u16("cipher_suite")))})),
        Variant.CNF: layout(mac("m_sound_target"), u8("num_sounds"), u8("time_out"),
                            u8("resp_type"), mac("forwarding_sta"), *_APP_SEC,
                            hexbytes("run_id", _RUN_ID),
                            switch("cipher_suite", "security_type", _CIPHER)),
    }, summary="SLAC parameter exchange"),
    MmeSpec(0x6068, "CM_START_ATTEN_CHAR", {
        Variant.IND: layout(*_APP_SEC, u8("num_sounds"), u8("time_out"), u8("resp_type"),
                            mac("forwarding_sta"), hexbytes("run_id", _RUN_ID)),
    }, summary="Start of attenuation characterization"),
    MmeSpec(0x606C, "CM_ATTEN_CHAR", {
        Variant.IND: layout(*_APP_SEC, mac("source_address"), hexbytes("run_id", _RUN_ID),
                            hexbytes("source_id", _ID17), hexbytes("resp_id", _ID17),
                            u8("num_sounds"), count_of("num_groups", "aag"),
                            u8list("aag", "num_groups")),
        Variant.RSP: layout(*_APP_SEC, mac("source_address"), hexbytes("run_id", _RUN_ID),
                            hexbytes("source_id", _ID17), hexbytes("resp_id", _ID17),
                            u8("result")),
    }, summary="Attenuation characterization result"),
    MmeSpec(0x6074, "CM_MNBC_SOUND", {
        Variant.IND: layout(*_APP_SEC, hexbytes("sender_id", _ID17), u8("cnt"),
                            hexbytes("run_id", _RUN_ID), hexbytes("reserved", 8),
                            hexbytes("rnd", 16)),
    }, summary="M-sounds (multi-network broadcast sounding)"),
    MmeSpec(0x6078, "CM_VALIDATE", {
        Variant.REQ: layout(u8("signal_type"), u8("timer"), u8("result")),
        Variant.CNF: layout(u8("signal_type"), u8("toggle_num"), u8("result")),
    }, summary="Validation by BCB toggles"),
    MmeSpec(0x607C, "CM_SLAC_MATCH", {
        Variant.REQ: layout(*_APP_SEC, u16("mvf_length"), *_match_var_field(cnf=False)),
        Variant.CNF: layout(*_APP_SEC, u16("mvf_length"), *_match_var_field(cnf=True)),
    }, secrets=("nmk",), summary="SLAC match: the EVSE hands out NID and NMK", declared={
        Variant.REQ: ("mvf_length", layout(*_match_var_field(cnf=False)).sizeof()),
        Variant.CNF: ("mvf_length", layout(*_match_var_field(cnf=True)).sizeof())}),
    MmeSpec(0x6080, "CM_SLAC_USER_DATA", {Variant.REQ: _SLAC_USER_DATA, Variant.CNF: _SLAC_USER_DATA},
            summary="SLAC user data (vendor TLVs)"),
    MmeSpec(0x6084, "CM_ATTEN_PROFILE", {
        Variant.IND: layout(mac("pev_mac"), count_of("num_groups", "aag"), u8("reserved"),
                            u8list("aag", "num_groups")),
    }, summary="Attenuation profile of one sound, as measured by a modem"),
)

_NW_INFO_V10 = layout(
    count_of("num_networks", "networks"),
    group("networks", "num_networks", hexbytes("nid", _NID), u8("snid"), u8("tei"),
          u8("sta_role"), mac("cco_mac"), u8("cco_tei"), count_of("num_stas", "stations"),
          group("stations", "num_stas", mac("mac"), u8("tei"), mac("bda"), u8("avg_phy_tx"),
                u8("avg_phy_rx"))),
)
_NW_INFO_V11 = layout(
    hexbytes("reserved", 5),
    count_of("num_networks", "networks"),
    group("networks", "num_networks", hexbytes("nid", _NID), hexbytes("reserved1", 2),
          u8("snid"), u8("tei"), hexbytes("reserved2", 4), u8("sta_role"), mac("cco_mac"),
          u8("cco_tei"), hexbytes("reserved3", 3), count_of("num_stas", "stations"),
          hexbytes("reserved4", 5),
          group("stations", "num_stas", mac("mac"), u8("tei"), hexbytes("reserved1", 3),
                mac("bda"), u16("avg_phy_tx"), u8("coupling"), u8("reserved2"),
                u16("avg_phy_rx"), u8("reserved3"))),
)
# --- VS_LNK_STATS.CNF statistics ----------------------------------------------------------
# Source: Qualcomm open-plc-utils plc/LinkStatistics.c (struct transmit / receive /
# interval, all counters uint64 little-endian) and Wireshark packet-homeplug-av.c
# (dissect_homeplug_av_lnk_stats_tx/_rx/_rx_interval), which agree octet for octet.
_LNK_TX = (u64("tx_mpdu_acked"), u64("tx_mpdu_collided"), u64("tx_mpdu_failed"),
           u64("tx_pb_passed"), u64("tx_pb_failed"))
_LNK_RX = (u64("rx_mpdu_acked"), u64("rx_mpdu_failed"), u64("rx_pb_passed"),
           u64("rx_pb_failed"), u64("rx_turbo_ber_passed"), u64("rx_turbo_ber_failed"),
           count_of("num_intervals", "intervals"),
           group("intervals", "num_intervals", u8("phy_rate_mbps"), u64("pb_passed"),
                 u64("pb_failed"), u64("turbo_ber_passed"), u64("turbo_ber_failed")))

# --- VS_SNIFFER.IND: the sniffed HomePlug AV frame control (16 octets) -------------------
# Source: Wireshark packet-homeplug-av.c, dissect_homeplug_av_sniffer_ind and the
# per-delimiter dissectors (beacon, start_of_frame, sack, rtscts, sound, rsof) with the
# HOMEPLUG_AV_*_MASK bit masks. Bit 0 is the least significant bit of each octet group;
# the multi-octet groups are little-endian as Wireshark reads them. The last 3 octets of
# every variant are the frame control check sequence (FCCS). Octets Wireshark leaves
# undecoded ("TODO") have no public layout (the HomePlug AV specification is available
# to members only) and stay raw: SACK's 10 octets of SACK data, RSOF's 7 octets after
# its flags, the 12 octets of the reserved delimiter types 6 and 7.
_FC_HEAD = bits("frame_control", 1, ("delimiter_type", 3), ("access", 1), ("snid", 4))
_FCCS = hexbytes("fccs", 3)
_TEIS = (u8("stei"), u8("dtei"), u8("lid"))
_BEACON_VARIANT = (u32("bts"), u16("bto_0"), u16("bto_1"), u16("bto_2"), u16("bto_3"), _FCCS)
# The beacon payload follows the frame control in a beacon indication (136 octets).
_BEACON_PAYLOAD = (
    *bits("beacon_nid", 7, ("nid", 54), ("hybrid_mode", 2)),
    u8("beacon_stei"),
    *bits("beacon_type_flags", 1, ("beacon_type", 3), ("ncnr", 1), ("npsm", 1), ("num_slots", 3)),
    u8("slot_usage"),
    *bits("beacon_slot_flags", 1, ("slot_id", 2), ("reserved_bit", 1), ("aclss", 3), ("hoip", 1), ("rtsbf", 1)),
    *bits("beacon_mode_flags", 1, ("nm", 2), ("cco_cap", 2), ("rsf", 1), ("plevel", 3)),
    hexbytes("beacon_entries", 120),  # BENTRY list and padding: Wireshark leaves it raw too
    u32("bpcs"),
)
_SOF = (
    *_TEIS,
    *bits("sof_flags", 1, ("cfs", 1), ("bdf", 1), ("hp10df", 1), ("hp11df", 1), ("peks", 4)),
    u8("ppb"), u8("ble"),
    *bits("sof_tone_map", 1, ("pbsz", 1), ("num_sym", 2), ("tmi_av", 5)),
    *bits("sof_length", 2, ("fl_av", 12), ("mpdu_cnt", 2), ("burst_cnt", 2)),
    *bits("sof_burst", 1, ("bbf", 1), ("mrtfl", 4), ("dccpcf", 1), ("mcf", 1), ("mnbf", 1)),
    *bits("sof_mfs_cmd", 1, ("rsr", 1), ("clst", 1), ("mfs_cmd_mgmt", 3), ("mfs_cmd_data", 3)),
    *bits("sof_mfs_rsp", 1, ("mfs_rsp_mgmt", 2), ("mfs_rsp_data", 2), ("bm_sack", 4)),
    _FCCS,
)
_SACK_RSOF_FLAGS = bits("sack_flags", 1, ("cfs", 1), ("bdf", 1), ("svn", 1), ("rrtf", 1),
                        ("mfs_rsp_data", 2), ("mfs_rsp_mgmt", 2))
_SACK = (u8("dtei"), *_SACK_RSOF_FLAGS, hexbytes("sack_data", 10), _FCCS)
_RTS_CTS = (
    *_TEIS,
    *bits("rtscts_flags", 1, ("cfs", 1), ("bdf", 1), ("hp10df", 1), ("hp11df", 1), ("rtsf", 1),
          ("igf", 1), ("mnbf", 1), ("mcf", 1)),
    *bits("rtscts_duration", 2, ("dur", 14), ("reserved_bits", 2)),
    hexbytes("reserved", 6), _FCCS,
)
_SOUND = (
    *_TEIS,
    *bits("sound_flags", 1, ("cfs", 1), ("pbsz", 1), ("bdf", 1), ("saf", 1), ("scf", 1), ("req_tm", 3)),
    *bits("sound_length", 2, ("fl_av", 12), ("mpdu_cnt", 2), ("reserved_bits", 2)),
    u8("ppb"), u8("src"),
    *bits("sound_tone_maps", 1, ("add_req_tm", 3), ("max_pb_sym", 3), ("ecsf", 1), ("ecuf", 1)),
    *bits("sound_extensions", 1, ("ems", 2), ("esgisf", 1), ("elgisf", 1), ("efrs", 2),
          ("reserved_bits2", 2)),
    hexbytes("reserved", 2), _FCCS,
)
_RSOF = (
    u8("dtei"), *_SACK_RSOF_FLAGS, hexbytes("sack_data", 7),
    *bits("rsof_length", 2, ("fl", 10), ("tmi", 5), ("pbsz", 1)),
    *bits("rsof_mfs_cmd", 1, ("num_sym", 2), ("mfs_cmd_mgmt", 3), ("mfs_cmd_data", 3)),
    _FCCS,
)
_FC_RESERVED = (hexbytes("variant_fields", 12), _FCCS)
DELIMITER_TYPES: dict[int, str] = {0: "beacon", 1: "SOF", 2: "SACK", 3: "RTS/CTS", 4: "sound",
                                   5: "RSOF", 6: "reserved", 7: "reserved"}
FRAME_CONTROL_VARIANTS: dict[int, cs.Struct] = {
    0: layout(*_BEACON_VARIANT, *_BEACON_PAYLOAD), 1: layout(*_SOF), 2: layout(*_SACK),
    3: layout(*_RTS_CTS), 4: layout(*_SOUND), 5: layout(*_RSOF),
    6: layout(*_FC_RESERVED), 7: layout(*_FC_RESERVED),
}


# VS_MODULE_OPERATION read (MOD_OP 0 from memory, 1 from flash): open-plc-utils
# plc/ModuleRead.c, struct vs_module_operation_read_request / _confirm: MODULE_SPEC ends
# with MODULE_LENGTH and MODULE_OFFSET, the confirmation then carries MODULE_DATA. Other
# operations (write, commit, sessions) keep their operation data raw in `op_data`, as
# does whatever follows a read's fields (Ethernet padding of a short request).
_MODULE_READ_REQ = layout(u16("module_length"), u32("module_offset"))
_MODULE_READ_CNF = layout(length_of("module_length", "module_data", width=2), u32("module_offset"),
                          hexvar("module_data", "module_length"))


def _module_operation(*head: cs.Construct, confirm: bool = False) -> cs.Struct:
    read = _MODULE_READ_CNF if confirm else _MODULE_READ_REQ
    return layout(*head, u32("reserved"), u8("num_op_data"), u16("mod_op"), u16("mod_op_data_len"),
                  u32("mod_op_reserved"), u16("module_id"), u16("module_sub_id"),
                  switch("module_read", "mod_op", {0: read, 1: read}),
                  hexrest("op_data"))


# --- Qualcomm Atheros vendor-specific MMEs (OUI 00:B0:52) -------------------------------
# VS_TONE_MAP_CHAR: Wireshark packet-homeplug-av.c dissect_homeplug_av_tone_map_tx_req/_cnf
# (per MME version); `carriers` is one modulation nibble per active carrier, two per
# octet, low nibble first (0 none, 1 BPSK, 2 QPSK, ... 8 4096-QAM: homeplug_av_tone_map_vals).
def _qca(base: int, name: str, layouts: dict[Variant, cs.Struct], **kw) -> MmeSpec:
    return MmeSpec(base, name, layouts, oui=OUI_QUALCOMM, **kw)


def _qca_raw(base: int, name: str, summary: str) -> MmeSpec:
    return _qca(base, name, {v: _raw() for v in Variant}, summary=summary)


_QUALCOMM: tuple[MmeSpec, ...] = (
    _qca(0xA000, "VS_SW_VER", {
        Variant.REQ: _empty(),
        Variant.CNF: layout(u8("status"), u8("device_id"), text_length_of("version_length", "version"),
                            textvar("version", "version_length")),
    }, summary="Firmware version"),
    _qca_raw(0xA004, "VS_WR_MEM", "Write memory"),
    _qca_raw(0xA008, "VS_RD_MEM", "Read memory"),
    _qca_raw(0xA00C, "VS_ST_MAC", "Start MAC"),
    _qca_raw(0xA010, "VS_GET_NVM", "NVM parameters"),
    _qca(0xA01C, "VS_RS_DEV", {
        Variant.REQ: _empty(),
        Variant.CNF: layout(u8("status")),
    }, summary="Reset device"),
    _qca_raw(0xA020, "VS_WR_MOD", "Write module"),
    _qca_raw(0xA024, "VS_RD_MOD", "Read module"),
    _qca_raw(0xA028, "VS_MOD_NVM", "Commit module to NVM"),
    _qca(0xA030, "VS_LNK_STATS", {
        Variant.REQ: layout(u8("control"), u8("direction"), u8("lid"), mac("mac")),
        # statistics follow only on success (status 0), per direction 0 Tx, 1 Rx, 2 both
        Variant.CNF: layout(u8("status"), u8("direction"), u8("lid"), u8("tei"),
                            switch("link_stats", ("status", "direction"), {
                                (0, 0): layout(*_LNK_TX), (0, 1): layout(*_LNK_RX),
                                (0, 2): layout(*_LNK_TX, *_LNK_RX)})),
    }, summary="Link statistics"),
    _qca(0xA034, "VS_SNIFFER", {
        Variant.REQ: layout(u8("control"), hexbytes("reserved", 4)),
        Variant.CNF: layout(u8("status"), u8("state"), mac("da")),
        Variant.IND: layout(u8("sniffer_type"), u8("direction"), u64("system_time"),
                            u32("beacon_time"), *_FC_HEAD,
                            switch("frame_control", "delimiter_type", FRAME_CONTROL_VARIANTS),
                            hexrest("trailing")),
    }, summary="Sniffer mode and sniffed PHY frame control"),
    _qca(0xA038, "VS_NW_INFO", {Variant.REQ: _empty(), Variant.CNF: _NW_INFO_V10}, mmv=0,
         summary="Network and station information (MME v1.0)"),
    _qca(0xA038, "VS_NW_INFO", {Variant.REQ: _empty(), Variant.CNF: _NW_INFO_V11}, mmv=1,
         summary="Network and station information (MME v1.1)"),
    # open-plc-utils plc/Loopback.c: struct vs_fr_lbk_request / _confirm. LENGTH is a
    # little-endian uint16 like every MME integer (1038 = 0e 04 in the corpus, the size of
    # the PACKET array); Wireshark reads it big-endian (3588), we do not follow it there.
    _qca(0xA048, "VS_LOOPBACK", {
        Variant.REQ: layout(u8("duration"), u8("reserved"), length_of("length", "packet", width=2),
                            hexvar("packet", "length")),
        Variant.CNF: layout(u8("status"), u8("duration"), u16("length")),
    }, summary="Frame loopback: the modem sends PACKET back for DURATION seconds"),
    _qca_raw(0xA050, "VS_SET_KEY", "Set encryption key"),
    _qca_raw(0xA054, "VS_MFG_STRING", "Manufacturer string"),
    _qca_raw(0xA058, "VS_RD_CBLOCK", "Read configuration block"),
    _qca(0xA060, "VS_HOST_ACTION", {
        Variant.IND: layout(u8("action"), u8("major_version"), u8("minor_version")),
        Variant.RSP: layout(u8("status")),
    }, summary="Embedded host action required"),
    _qca(0xA068, "VS_OP_ATTRIBUTES", {
        Variant.REQ: layout(u32("cookie"), u8("report_type")),
        # the attribute block (hardware/firmware platform strings, versions, build
        # date) is kept as octets: its layout differs per report type and firmware
        Variant.CNF: layout(u16("status"), u32("cookie"), u8("report_type"),
                            length_of("size", "attributes", width=2), hexvar("attributes", "size")),
    }, summary="Operational attributes (platform, firmware)"),
    # open-plc-utils PHYSettings(): struct vs_enet_settings_request / _confirm. Wireshark
    # reads the request's second octet as "additional capabilities" and stops after 2
    # fields; Qualcomm's own tool has AUTONEGOTIATE, ADVCAPS, speed, duplex, flow control.
    _qca(0xA06C, "VS_ENET_SETTINGS", {
        # MCONTROL: low nibble 0 read / 1 write, high nibble the Ethernet port number
        Variant.REQ: layout(*bits("control", 1, ("control_mode", 4), ("port", 4)),
                            u8("auto_negotiate"), u8("advertised_caps"), u8("speed"),
                            u8("duplex"), u8("flow_control")),
        Variant.CNF: layout(u8("status"), u8("speed"), u8("duplex"), u8("link_status"),
                            u8("flow_control")),
    }, summary="Ethernet PHY settings of the modem's host port"),
    _qca(0xA070, "VS_TONE_MAP_CHAR", {
        Variant.REQ: layout(mac("peer"), u8("slot")),
        Variant.CNF: layout(u8("status"), u8("slot"), u8("num_tone_maps"),
                            u16("num_active_carriers"), nibbles("carriers", "num_active_carriers")),
    }, mmv=0, summary="Tx tone map of a peer (MME v1.0)"),
    _qca(0xA070, "VS_TONE_MAP_CHAR", {
        Variant.REQ: layout(hexbytes("reserved", 4), mac("peer"), u8("slot"),
                            *bits("coupling_octet", 1, ("coupling", 4), ("reserved_bits", 4))),
        Variant.CNF: layout(u16("status"), u16("length"), hexbytes("reserved", 2), mac("peer"),
                            u16("slot"), u16("num_tone_maps"), u16("num_active_carriers"),
                            hexbytes("reserved2", 4), nibbles("carriers", "num_active_carriers")),
    }, mmv=1, summary="Tx tone map of a peer (MME v1.1)"),
    _qca_raw(0xA074, "VS_NW_INFO_STATS", "Network information statistics"),
    _qca_raw(0xA07C, "VS_FAC_DEFAULTS", "Factory defaults"),
    _qca_raw(0xA090, "VS_RX_TONE_MAP_CHAR", "Receive tone map characteristics"),
    _qca(0xA0B0, "VS_MODULE_OPERATION", {
        Variant.REQ: _module_operation(),
        Variant.CNF: _module_operation(u16("status"), u16("err_rec_code"), confirm=True),
    }, summary="Module operation (read/write PIB and firmware modules)"),
    _qca(0xA0B8, "VS_PL_LNK_STATUS", {
        Variant.REQ: _empty(),
        Variant.CNF: layout(u8("status"), u8("link_status")),
    }, summary="Powerline link status"),
    _qca_raw(0xA0F8, "VS_GET_PROPERTY", "Get property"),
    _qca_raw(0xA100, "VS_SET_PROPERTY", "Set property"),
    # Sent by QCA modems during SLAC sounding (seen with zero and Qualcomm OUI); the same
    # attenuation groups as CM_ATTEN_PROFILE.IND plus 8 octets (body offsets 8-15, between
    # the reserved octet and the groups) kept raw as "unpublished": no public source names
    # this MMTYPE (not in open-plc-utils mme/qualcomm.h, whose list ends at 0xA148/0xA200,
    # nor in Wireshark packet-homeplug-av.c). All 328 such reports in the corpus carry
    # 10 00 00 00 00 00 00 00 there: too little to name a field.
    _qca(0xA14C, "VS_ATTEN_CHAR", {
        Variant.IND: layout(mac("pev_mac"), count_of("num_groups", "aag"), u8("reserved"),
                            hexbytes("unpublished", 8), u8list("aag", "num_groups")),
    }, extra_ouis=(0x000000,), summary="Modem attenuation report during sounding"),
)

# --- ST/IoTecha vendor-specific MMEs (OUI 00:80:E1), as sent by dSPACE test systems -------
_ST: tuple[MmeSpec, ...] = (
    MmeSpec(0xA22C, "STP_CPSTATE", {
        Variant.IND: layout(u8("mme_version"), hexbytes("reserved", 3), u8("message_version"),
                            u8("cp_state"), u8("pwm_duty"), u16("pwm_freq"), u16("cp_voltage"),
                            u8("adc_bitmask"), u16("adc_channel_1"), u16("adc_channel_2"),
                            u16("adc_channel_3")),
    }, oui=OUI_ST, summary="Control pilot state, PWM duty (%) and frequency (Hz), voltage (mV)"),
)

# --- dSPACE manufacturer-specific MMEs (OUI 64:4D:70) ------------------------------------
# dSPACE test systems (DS5366 / V2Gshark) broadcast their own diagnostics on the PLC line:
# self-describing UTF-8 text "vendor|tool|version|title|{JSON}" (every one of the 559 in
# the corpus reads "dSPACE SCS Diag|dsV2Gshark|v1|SCS Diagnostic|{...}" with valid JSON:
# PP resistor, contactor, target/present current and voltage, ...). No further layout.
OUI_DSPACE = 0x644D70
_DSPACE: tuple[MmeSpec, ...] = (
    MmeSpec(0x8000, "DSPACE_DIAG", {Variant.IND: layout(textrest("text"))}, oui=OUI_DSPACE,
            summary="dSPACE test-system diagnostics (text: vendor|tool|version|title|JSON)"),
)

# CP state codes seen in STP_CPSTATE.IND (IEC 61851-1 states)
CP_STATES: dict[int, str] = {0x01: "A", 0x03: "B", 0x05: "C", 0x09: "E"}

MMES: tuple[MmeSpec, ...] = _PUBLIC + _QUALCOMM + _ST + _DSPACE


def mmtype_name(mmtype: int, base_name: str | None) -> str:
    """Display name: `CM_SLAC_PARM.REQ`; unknown MMTYPEs keep their number."""
    variant = Variant(mmtype & 3).name
    if base_name is None:
        return f"MME_0x{mmtype & ~3:04X}.{variant}"
    return f"{base_name}.{variant}"
