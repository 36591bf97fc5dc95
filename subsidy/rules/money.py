"""Money and quantity arithmetic: integers only.

Contract (DESIGN.md, "Units and money"):

* money is whole fen (分) as ``int``; coal is whole kilograms as ``int``; stoves are whole sets;
* coal prices and subsidy rates are fen per ton, applied to kilograms and rounded half up
  once per slip line;
* splitting an amount between funds uses the largest-remainder method so the parts add up
  to the whole, to the fen.

No floats anywhere: a float cannot hold 0.1 yuan exactly, and one fen off in a settlement
is a finding in the audit. Reading typed amounts and tons is `subsidy.rules.measures`.
"""

from __future__ import annotations

__all__ = [
    "round_half_up_div",
    "coal_subsidy_fen",
    "line_amount_fen",
    "tiered_coal_subsidy_fen",
    "line_subsidy_fen",
    "split_largest_remainder",
    "yuan",
    "tons",
    "hundredths",
    "mj_per_kg",
    "share_of",
    "column_totals",
    "yuan_in_capitals",
    "rate_label",
]

KG_PER_TON = 1000


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Return ``numerator / denominator`` rounded to the nearest integer, halves up.

    Both arguments are non-negative ints and ``denominator > 0``; otherwise ``ValueError``.
    Exact for any size of int (no float is involved).
    """
    if numerator < 0 or denominator <= 0:
        raise ValueError(f"need numerator >= 0 and denominator > 0, got {numerator}/{denominator}")
    # floor((n + d/2) / d) without a fraction: multiply both sides by 2.
    return (2 * numerator + denominator) // (2 * denominator)


def coal_subsidy_fen(kg: int, rate_fen_per_ton: int) -> int:
    """Subsidy in fen for ``kg`` kilograms at ``rate_fen_per_ton``: round_half_up(kg * rate / 1000)."""
    return round_half_up_div(kg * rate_fen_per_ton, KG_PER_TON)


def line_amount_fen(quantity: int, unit_price_fen: int, per_ton: bool) -> int:
    """Amount in fen of one slip line.

    ``per_ton=True``: coal, ``quantity`` in kg and ``unit_price_fen`` per ton, rounded half up.
    ``per_ton=False``: stoves, ``quantity`` in sets and ``unit_price_fen`` per set (exact).
    """
    if quantity < 0 or unit_price_fen < 0:
        raise ValueError(f"quantity and price must be non-negative, got {quantity} x {unit_price_fen}")
    if per_ton:
        return round_half_up_div(quantity * unit_price_fen, KG_PER_TON)
    return quantity * unit_price_fen


def tiered_coal_subsidy_fen(already_kg: int, kg: int, tiers: list[tuple[int, int]]) -> int:
    """Subsidy in fen for buying ``kg`` more when the household already bought ``already_kg``.

    ``tiers`` is ``[(from_kg, rate_fen_per_ton), ...]``, strictly increasing ``from_kg``, the first
    ``from_kg`` is 0; a tier's rate applies to the cumulative kilograms from its ``from_kg`` up to
    the next tier's ``from_kg``. The new kilograms ``[already_kg, already_kg + kg)`` are split over
    those bands. Raises ``ValueError`` on malformed tiers or negative quantities.
    """
    if already_kg < 0 or kg < 0:
        raise ValueError(f"quantities must be non-negative, got already={already_kg}, kg={kg}")
    _check_tiers(tiers)
    start, end = already_kg, already_kg + kg
    # Sum each band's kg * rate exactly (unit: fen * kg / ton) and round ONCE at the end.
    # Rounding per band would add up to one fen of error per band crossed, and the line
    # would no longer equal round_half_up(exact amount) - the same rule every other line obeys.
    exact = 0
    for i, (band_from, rate) in enumerate(tiers):
        band_to = tiers[i + 1][0] if i + 1 < len(tiers) else end
        overlap = min(end, band_to) - max(start, band_from)
        if overlap > 0:
            exact += overlap * rate
    return round_half_up_div(exact, KG_PER_TON)


def line_subsidy_fen(amount_fen: int, quantity: int, tiers: list[tuple[int, int]], *, per_ton: bool,
                     already_kg: int = 0) -> int:
    """Subsidy in fen of one slip line, never more than the line's amount (a household never pays less than 0).

    Coal (``per_ton=True``): the tiered subsidy of ``quantity`` kg bought when the household already bought
    ``already_kg`` this season (`tiered_coal_subsidy_fen`). A stove: the first tier's rate per set (stoves have no
    tiers). ``tiers`` as in `tiered_coal_subsidy_fen`.
    """
    if per_ton:
        return min(amount_fen, tiered_coal_subsidy_fen(already_kg, quantity, tiers))
    return min(amount_fen, tiers[0][1] * quantity)


def _check_tiers(tiers: list[tuple[int, int]]) -> None:
    if not tiers:
        raise ValueError("tiers must not be empty")
    if tiers[0][0] != 0:
        raise ValueError(f"the first tier must start at 0 kg, got {tiers[0][0]}")
    for (a, _), (b, _) in zip(tiers, tiers[1:]):
        if b <= a:
            raise ValueError(f"tiers must have strictly increasing from_kg, got {a} then {b}")
    for _, rate in tiers:
        if rate < 0:
            raise ValueError(f"tier rates must be non-negative, got {rate}")


def split_largest_remainder(total: int, shares: list[int]) -> list[int]:
    """Split ``total`` (>= 0) in proportion to ``shares`` (weights, e.g. basis points).

    The parts are non-negative, sum exactly to ``total``, and each is the exact proportion
    rounded down or up (so within 1 of it). The units left after rounding everyone down go to
    the largest remainders; equal remainders go to the earlier position. A zero weight always
    gets 0. Raises ``ValueError`` if ``shares`` is empty, sums to zero, or has a negative weight,
    or if ``total`` is negative.
    """
    if total < 0:
        raise ValueError(f"total must be non-negative, got {total}")
    if not shares:
        raise ValueError("shares must not be empty")
    if any(s < 0 for s in shares):
        raise ValueError(f"shares must be non-negative, got {shares}")
    weight = sum(shares)
    if weight == 0:
        raise ValueError("shares must not sum to zero")
    floors = [total * s // weight for s in shares]
    remainders = [total * s % weight for s in shares]
    leftover = total - sum(floors)  # < len(shares): each remainder is < weight
    # sorted() is stable and the key includes the index, so ties go to the earlier position.
    for i in sorted(range(len(shares)), key=lambda i: (-remainders[i], i))[:leftover]:
        floors[i] += 1
    return floors


def _fixed(value: int, places: int) -> str:
    """Format ``value`` / 10**places with thousands separators and exactly ``places`` decimals."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**places)
    return f"{sign}{whole:,}.{frac:0{places}d}"


def yuan(fen: int) -> str:
    """Format fen as yuan: ``123456`` -> ``"1,234.56"``, ``-5`` -> ``"-0.05"``."""
    return _fixed(fen, 2)


def tons(kg: int) -> str:
    """Format kilograms as tons with 3 decimals: ``1234567`` -> ``"1,234.567"``."""
    return _fixed(kg, 3)


def hundredths(value: int, *, trim: bool = False) -> str:
    """Format a percentage stored in hundredths of a percent (quality limits and test results ``*_cpct``, fund
    shares ``share_bp``: a basis point is the same unit) as the percent figure, without the sign.

    ``45`` -> ``"0.45"``, ``3000`` -> ``"30.00"``; with ``trim`` the trailing zeros go, for shares typed as whole or
    half percents: ``4000`` -> ``"40"``, ``1250`` -> ``"12.5"``, ``3333`` -> ``"33.33"``.
    """
    text = _fixed(value, 2)
    return text.rstrip("0").rstrip(".") if trim else text


def mj_per_kg(kj_per_kg: int) -> str:
    """Format a calorific value stored in kJ/kg as MJ/kg, without the unit: two decimals, and the third only when the
    stored value has one, so nothing typed is lost: ``24500`` -> ``"24.50"``, ``24567`` -> ``"24.567"``, ``0`` ->
    ``"0.00"``."""
    text = _fixed(kj_per_kg, 3)
    return text[:-1] if text.endswith("0") else text


def column_totals(rows, *fields: str) -> dict[str, int]:
    """The total of each named integer attribute over ``rows``, for the foot of a table: ``{"coal_kg": 3500, ...}``.
    Every field is present, 0 for no rows."""
    return {f: sum(int(getattr(row, f) or 0) for row in rows) for f in fields}


def share_of(part: int, whole: int) -> str | None:
    """``part`` as a percentage of ``whole`` with one decimal, rounded half up with integers, without the sign;
    None when ``whole`` is 0 (no target: no percentage). ``1, 3`` -> ``"33.3"``, ``2, 3`` -> ``"66.7"``."""
    if not whole:
        return None
    return _fixed(round_half_up_div(part * 1000, whole), 1)




_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_SECTIONS = ("", "万", "亿")
# Beyond 9,999 亿 yuan the next section (万亿) needs a different grammar; no season's money comes near it.
MAX_CAPITALS_FEN = 10**12 * 100 - 1


def yuan_in_capitals(fen: int) -> str:
    """The amount in Chinese financial capitals (金额大写), as written on a slip or a statement after "人民币":
    ``160000`` -> ``"壹仟陆佰元整"``, ``105`` -> ``"壹元零伍分"``, ``50`` -> ``"伍角整"``, ``0`` -> ``"零元整"``.

    The rules of the People's Bank for filling in vouchers (正确填写票据和结算凭证的基本规定): 整 after 元 or 角 when
    there are no 分, never after 分; 拾 always has its digit (壹拾, not 拾); a run of zero digits between two non-zero
    ones is one 零. Where those rules allow either (a zero 万 or 元 place before a non-zero 仟 or 角), this always
    writes the 零, so that nothing can be inserted into the gap: ``10700053`` -> ``"壹拾万零柒仟元零伍角叁分"``.
    The 角 place zero before a non-zero 分 is always written as 零 (the rules require it).
    ``fen`` is a non-negative int below 10**14 (a trillion yuan); otherwise ``ValueError``.
    """
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise ValueError(f"fen must be an int, got {fen!r}")
    if fen < 0 or fen > MAX_CAPITALS_FEN:
        raise ValueError(f"fen must be between 0 and {MAX_CAPITALS_FEN}, got {fen}")
    whole, cents = divmod(fen, 100)
    out: list[str] = []
    zero_pending = False  # one or more zero digits since the last written non-zero digit

    def digit(d: int, unit: str) -> None:
        nonlocal zero_pending
        if d == 0:
            zero_pending = bool(out)
            return
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(_DIGITS[d] + unit)

    text = str(whole) if whole else ""
    for i, ch in enumerate(text):
        position = len(text) - 1 - i
        digit(int(ch), _PLACES[position % 4])
        section = position // 4
        if position % 4 == 0 and section and int(text[max(0, i - 3):i + 1]):
            out.append(_SECTIONS[section])  # 万 / 亿 after a section with any non-zero digit, before its zeros' 零
    if whole:
        out.append("元")
    jiao, fen_digit = divmod(cents, 10)
    digit(jiao, "角")
    digit(fen_digit, "分")
    if not out:
        return "零元整"
    if not fen_digit:
        out.append("整")
    return "".join(out)


def rate_label(tiers: list[tuple[int, int]], *, per_ton: bool) -> str:
    """A subsidy rate as the printed slip states it: ``[(0, 30000)]`` -> ``"300.00元/吨"``; a stove's
    ``[(0, 50000)]`` -> ``"500.00元/台"``; tiers by the household's cumulative kilograms of the season
    ``[(0, 30000), (2000, 15000)]`` -> ``"累计2.000吨以内 300.00元/吨；2.000吨以上 150.00元/吨"``. "" for no tiers."""
    unit = "元/吨" if per_ton else "元/台"
    if not tiers:
        return ""
    if len(tiers) == 1 or not per_ton:
        return f"{yuan(tiers[0][1])}{unit}"
    parts = []
    for i, (from_kg, rate) in enumerate(tiers):
        if i == 0:
            band = f"累计{tons(tiers[1][0])}吨以内"
        elif i == len(tiers) - 1:
            band = f"{tons(from_kg)}吨以上"
        else:
            band = f"{tons(from_kg)}–{tons(tiers[i + 1][0])}吨"
        parts.append(f"{band} {yuan(rate)}{unit}")
    return "；".join(parts)
