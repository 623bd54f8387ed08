"""The parameter table of docs/mqtt.md, rendered from `suite.domain.alarms.parameters`
(the one table in code): `python -m adapters.mqtt.parameter_table`. A test checks that the
document holds exactly this text."""

from __future__ import annotations

from suite.domain.alarms.parameters import PARAMETERS


def render() -> str:
    lines = [
        "| key | parameter | unit (also accepted) | IEEE 11073 MDC | LOINC | plausible range |",
        "|---|---|---|---|---|---|",
    ]
    for param, info in PARAMETERS.items():
        unit = info.unit if info.ucum == info.unit else f"{info.unit} (`{info.ucum}`)"
        lines.append(
            f"| `{param.value}` | {info.label} | {unit} | {info.mdc_code} ({info.mdc_numeric}) "
            f"| {info.loinc} {info.loinc_name} | {info.physical_min:g} – {info.physical_max:g} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
