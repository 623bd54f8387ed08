"""Patient names for people, from the HL7 v2 person name (XPN) the service passes on.

XPN is `family^given^middle^suffix^prefix^degree`; the family name (FN) may itself be split
into subcomponents with `&` (surname & own surname prefix & ...). Senders use that split for
names like O'Brien ("O&BRIEN"): a one- or two-letter Irish/Italian particle before `&` is
joined with an apostrophe, other parts with a space ("VAN&DER&BERG" -> "Van Der Berg").
Names sent in capitals are given ordinary capitals; names already in mixed case are kept.
"""

from __future__ import annotations

# Particles that take an apostrophe when a sender split the family name after them.
_APOSTROPHE = {"O", "D", "L", "DI", "DE"}
_GLUE = ("-", "'", " ")


def _capitals(word: str) -> str:
    """MCDONALD -> McDonald, O'BRIEN -> O'Brien, ANNE-MARIE -> Anne-Marie; mixed case kept."""
    if not word or word != word.upper():
        return word
    out = []
    part = ""
    for ch in word + " ":
        if ch in _GLUE:
            if part:
                fixed = part.capitalize()
                if fixed.startswith("Mc") and len(fixed) > 2:
                    fixed = "Mc" + fixed[2:].capitalize()
                out.append(fixed)
            out.append(ch)
            part = ""
        else:
            part += ch
    return "".join(out)[:-1]


def family_name(component: str) -> str:
    """The family name from an XPN.1 component, its `&` subcomponents joined."""
    parts = [p.strip() for p in component.split("&") if p.strip()]
    if not parts:
        return ""
    text = parts[0]
    for part in parts[1:]:
        glue = "'" if text.upper() in _APOSTROPHE and len(parts) == 2 else " "
        text = f"{text}{glue}{part}"
    return _capitals(text)


def person_name(hl7_name: str) -> str:
    """ "O&BRIEN^MARGARET" -> "O'Brien, Margaret"; "Keller^Ruth^M" -> "Keller, Ruth M";
    a name without components is returned as sent (capitals fixed); "" for none."""
    fields = hl7_name.split("^")
    family = family_name(fields[0]) if fields else ""
    given = " ".join(_capitals(f.replace("&", " ").strip()) for f in fields[1:3] if f.strip())
    if family and given:
        return f"{family}, {given}"
    return family or given
