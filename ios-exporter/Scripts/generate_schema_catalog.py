#!/usr/bin/env python3
"""Generates Sources/StitchSchema/SchemaCatalog.swift from schema/stitch-telemetry.yaml.

The YAML file is the source of truth for the telemetry contract; the Swift catalog is its compiled form, so the
exporter never parses YAML at run time and a schema change shows up as a reviewable diff.

Usage (from ios-exporter/ or anywhere):
    python3 Scripts/generate_schema_catalog.py           # rewrite the catalog
    python3 Scripts/generate_schema_catalog.py --check   # write nothing; exit 1 with a diff when the file drifted

The output is deterministic (schema order, no timestamps) and already laid out the way `swift format` wants it, so
`swift format lint --strict` passes on it without running the formatter here.
"""

import argparse
import difflib
import re
import sys
import textwrap
from pathlib import Path

import yaml

SCRIPT_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = SCRIPT_DIR.parent
SCHEMA_PATH = PACKAGE_DIR.parent / "schema" / "stitch-telemetry.yaml"
OUTPUT_PATH = PACKAGE_DIR / "Sources" / "StitchSchema" / "SchemaCatalog.swift"

LINE_LIMIT = 120

# Words written in capitals inside a lowerCamel identifier (Swift API naming: sessionID, not sessionId).
ACRONYMS = {"id": "ID", "url": "URL", "http": "HTTP", "os": "OS", "ip": "IP", "hmac": "HMAC", "sha256": "SHA256"}

KNOWN_TYPES = {"string": "string", "int": "int", "double": "double", "boolean": "boolean"}
KNOWN_SIGNALS = {"span": "span", "span_event": "spanEvent", "log": "log", "metric": "metric", "resource": "resource"}
KNOWN_REQUIREMENTS = {"required", "optional"}
KNOWN_VALIDATION_KEYS = {"min", "max", "max_length", "enum", "regex", "format", "pii_scan"}


class SchemaError(Exception):
    """The YAML does not have the shape this generator understands; fail instead of guessing."""


def camel(name):
    words = [w for w in re.split(r"[._]", name) if w]
    if not words:
        raise SchemaError(f"cannot derive an identifier from {name!r}")
    head, tail = words[0].lower(), words[1:]
    ident = head + "".join(ACRONYMS.get(w.lower(), w[:1].upper() + w[1:].lower()) for w in tail)
    if not re.fullmatch(r"[a-z][A-Za-z0-9]*", ident):
        raise SchemaError(f"identifier {ident!r} for {name!r} is not a plain Swift identifier")
    return ident


def swift_string(value):
    """A Swift string literal; a raw literal when the text has backslashes (regexes read better that way)."""
    if not isinstance(value, str):
        raise SchemaError(f"expected a string, got {value!r}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise SchemaError(f"control character in {value!r}")
    if "\\" in value:
        if '"#' in value:
            raise SchemaError(f"cannot write {value!r} as a raw string")
        return '#"' + value + '"#'
    return '"' + value.replace('"', '\\"') + '"'


def swift_int(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f"expected an integer, got {value!r}")
    sign = "-" if value < 0 else ""
    digits = str(abs(value))
    if len(digits) > 4:
        groups = []
        while digits:
            groups.insert(0, digits[-3:])
            digits = digits[:-3]
        digits = "_".join(groups)
    return sign + digits


def swift_double(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"expected a number, got {value!r}")
    if isinstance(value, int):
        return swift_int(value)
    text = repr(float(value))
    if "inf" in text or "nan" in text:
        raise SchemaError(f"bound {value!r} is not finite")
    return text


def doc_lines(text, indent):
    """A `///` comment wrapped to the line limit."""
    prefix = " " * indent + "/// "
    words = " ".join(str(text).split())
    parts = textwrap.wrap(words, width=LINE_LIMIT - len(prefix), break_long_words=False, break_on_hyphens=False)
    return [prefix + part for part in parts]


def require(mapping, key, where):
    if key not in mapping:
        raise SchemaError(f"{where}: missing {key!r}")
    return mapping[key]


def check_unique(idents, what):
    seen = {}
    for ident, name in idents:
        if ident in seen:
            raise SchemaError(f"{what} {name!r} and {seen[ident]!r} both become {ident}")
        seen[ident] = name


def name_enum(lines, enum_name, doc, items):
    """An enum of `public static let ident = "name"` constants, each documented with its brief."""
    check_unique([(camel(i["name"]), i["name"]) for i in items], enum_name)
    lines.extend(doc_lines(doc, 0))
    lines.append(f"public enum {enum_name} {{")
    for index, item in enumerate(items):
        if index:
            lines.append("")
        lines.extend(doc_lines(require(item, "brief", item["name"]), 4))
        lines.append(f"    public static let {camel(item['name'])} = {swift_string(item['name'])}")
    lines.append("}")
    lines.append("")


def format_enum(lines, formats):
    check_unique([(camel(n), n) for n in formats], "format")
    lines.extend(doc_lines("The value formats a string attribute may be held to (the schema's `formats`).", 0))
    lines.append("public enum SchemaFormat: String, Sendable, CaseIterable {")
    for index, (name, spec) in enumerate(formats.items()):
        if index:
            lines.append("")
        lines.extend(doc_lines(require(spec, "description", f"format {name}"), 4))
        lines.append(f"    case {camel(name)} = {swift_string(name)}")
    lines.append("}")
    lines.append("")


def format_rule_args(name, spec):
    unknown = set(spec) - {"description", "regex", "not_in", "example"}
    if unknown:
        raise SchemaError(f"format {name}: unknown keys {sorted(unknown)}")
    args = []
    if "regex" in spec:
        args.append(f"regex: SchemaRegex({swift_string(spec['regex'])})")
    if spec.get("not_in"):
        args.append(ListArg("excluded", [swift_string(v) for v in spec["not_in"]]))
    return args


def attribute_spec(attr, formats):
    name = require(attr, "name", "attribute")
    type_name = require(attr, "type", name)
    if type_name not in KNOWN_TYPES:
        raise SchemaError(f"{name}: unknown type {type_name!r}")
    requirement = require(attr, "requirement", name)
    if requirement not in KNOWN_REQUIREMENTS:
        raise SchemaError(f"{name}: unknown requirement {requirement!r}")
    signals = require(attr, "signals", name)
    for signal in signals:
        if signal not in KNOWN_SIGNALS:
            raise SchemaError(f"{name}: unknown signal {signal!r}")
    validation = attr.get("validation") or {}
    unknown = set(validation) - KNOWN_VALIDATION_KEYS
    if unknown:
        raise SchemaError(f"{name}: unknown validation keys {sorted(unknown)}")
    numeric = type_name in ("int", "double")
    textual = type_name == "string"
    if not numeric and ({"min", "max"} & set(validation)):
        raise SchemaError(f"{name}: min/max on a {type_name} attribute")
    if not textual and (set(validation) - {"min", "max"}):
        raise SchemaError(f"{name}: string checks on a {type_name} attribute")
    if type_name == "int":
        for key in ("min", "max"):
            if key in validation and not isinstance(validation[key], int):
                raise SchemaError(f"{name}: {key} of an int attribute must be an integer")

    ident = "SchemaAttribute." + camel(name)
    args = [
        f"name: {ident}",
        f"type: .{KNOWN_TYPES[type_name]}",
        f"requirement: .{requirement}",
        "signals: [" + ", ".join("." + KNOWN_SIGNALS[s] for s in signals) + "]",
    ]
    if "min" in validation:
        args.append(f"minimum: {swift_double(validation['min'])}")
    if "max" in validation:
        args.append(f"maximum: {swift_double(validation['max'])}")
    if "max_length" in validation:
        args.append(f"maxLength: {swift_int(validation['max_length'])}")
    if "enum" in validation:
        values = validation["enum"]
        if not values or len(set(values)) != len(values):
            raise SchemaError(f"{name}: enum must be non-empty and without duplicates")
        args.append(ListArg("enumValues", [swift_string(v) for v in values]))
    if "format" in validation:
        if validation["format"] not in formats:
            raise SchemaError(f"{name}: unknown format {validation['format']!r}")
        args.append(f"format: .{camel(validation['format'])}")
    if "regex" in validation:
        args.append(f"regex: SchemaRegex({swift_string(validation['regex'])})")
    if validation.get("pii_scan"):
        args.append("piiScan: true")
    return args


class ListArg:
    """A labelled array argument, which may need a line per element."""

    def __init__(self, label, items):
        self.label, self.items = label, items

    def __str__(self):
        return f"{self.label}: [{', '.join(self.items)}]"


def call_lines(head, args, indent, tail):
    """`head(args...)tail`, on one line when it fits, else one argument per line (formatter-stable)."""
    pad = " " * indent
    one_line = f"{pad}{head}({', '.join(str(a) for a in args)}){tail}"
    if len(one_line) <= LINE_LIMIT:
        return [one_line]
    out = [f"{pad}{head}("]
    for index, arg in enumerate(args):
        comma = "," if index < len(args) - 1 else ""
        line = f"{pad}    {arg}{comma}"
        if len(line) > LINE_LIMIT and isinstance(arg, ListArg):
            out.append(f"{pad}    {arg.label}: [")
            out.extend(f"{pad}        {item}," for item in arg.items)
            out.append(f"{pad}    ]{comma}")
            continue
        if len(line) > LINE_LIMIT:
            raise SchemaError(f"generated line too long: {line.strip()!r}")
        out.append(line)
    out.append(f"{pad}){tail}")
    return out


def list_lines(head, items, indent, tail="]"):
    pad = " " * indent
    one_line = f"{pad}{head}[{', '.join(items)}{tail}"
    if len(one_line) <= LINE_LIMIT:
        return [one_line]
    out = [f"{pad}{head}["]
    out.extend(f"{pad}    {item}," for item in items)
    out.append(f"{pad}{tail}")
    return out


def generate(schema):
    version = str(require(schema, "version", "schema"))
    formats = require(schema, "formats", "schema")
    attributes = require(schema, "attributes", "schema")
    forbidden = [require(f, "name", "forbidden attribute") for f in require(schema, "forbidden_attributes", "schema")]
    events = require(schema, "events", "schema")
    headers = require(schema, "headers", "schema")
    rules = require(schema, "rules", "schema")
    reason_codes = [require(r, "code", "reason code") for r in require(schema, "reason_codes", "schema")]

    names = [a["name"] for a in attributes]
    if len(set(names)) != len(names):
        raise SchemaError("duplicate attribute names")
    if set(names) & set(forbidden):
        raise SchemaError(f"attributes both defined and forbidden: {sorted(set(names) & set(forbidden))}")
    if len(set(reason_codes)) != len(reason_codes):
        raise SchemaError("duplicate reason codes")

    session = rules["session"]
    sampling = rules["sampling"]
    url_template = rules["url_template"]
    privacy = rules["privacy"]
    propagation = rules["propagation"]
    placeholders = url_template["placeholders"]

    lines = [
        "// Generated by Scripts/generate_schema_catalog.py from schema/stitch-telemetry.yaml: do not edit by hand.",
        "// Regenerate from ios-exporter/ with `python3 Scripts/generate_schema_catalog.py`; `--check` reports drift.",
        "",
    ]
    name_enum(lines, "SchemaAttribute", "Attribute names the schema defines, so call sites cannot misspell them.",
              attributes)
    name_enum(lines, "SchemaEvent", "Event names the schema defines (log records with this `event.name`).", events)
    name_enum(lines, "SchemaHeader", "Propagation headers the schema defines, as written on the wire.", headers)
    format_enum(lines, formats)

    lines.extend(doc_lines(
        "The schema's data: what each attribute may hold, what must never be emitted, and the reason codes.", 0))
    lines.append("public enum SchemaCatalog {")
    lines.extend(doc_lines("The schema version implemented here; travels as `stitch.schema.version`.", 4))
    lines.append(f"    public static let version = {swift_string(version)}")
    lines.append("")
    lines.extend(doc_lines("Attribute names that must never be emitted, because they carry raw URLs or personal "
                           "data.", 4))
    lines.extend(list_lines("public static let forbiddenAttributes: Set<String> = ",
                            [swift_string(n) for n in forbidden], 4))
    lines.append("")
    lines.extend(doc_lines("The check behind each format; `url_template` has none because templating defines it.", 4))
    lines.append("    public static let formats: [SchemaFormat: FormatRule] = [")
    for name, spec in formats.items():
        lines.extend(call_lines(f".{camel(name)}: FormatRule", format_rule_args(name, spec), 8, ","))
    lines.append("    ]")
    lines.append("")
    lines.extend(doc_lines("Every attribute in schema order; regexes compile once, when this is first read.", 4))
    lines.append("    public static let attributeList: [AttributeSpec] = [")
    for attr in attributes:
        lines.extend(call_lines("AttributeSpec", attribute_spec(attr, formats), 8, ","))
    lines.append("    ]")
    lines.append("")
    lines.extend(doc_lines("The attributes by name, for validation lookups.", 4))
    lines.append("    public static let attributes: [String: AttributeSpec] = Dictionary(")
    lines.append("        attributeList.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })")
    lines.append("")
    lines.extend(doc_lines("The schema's reason codes in schema order; `ReasonCode` must list exactly these.", 4))
    lines.extend(list_lines("public static let reasonCodes: [String] = ", [swift_string(c) for c in reason_codes], 4))
    lines.append("}")
    lines.append("")

    lines.extend(doc_lines("The session boundaries of `rules.session`.", 0))
    lines.append("public enum SessionRules {")
    lines.extend(doc_lines("Time in the background after which the session has ended.", 4))
    lines.append(f"    public static let backgroundTimeoutMs: Int64 = {swift_int(session['background_timeout_ms'])}")
    lines.append("")
    lines.extend(doc_lines("Longest a session may last, in the foreground or not.", 4))
    lines.append(f"    public static let maxDurationMs: Int64 = {swift_int(session['max_duration_ms'])}")
    lines.append("")
    lines.extend(doc_lines("The keys under which the session state is persisted between process runs.", 4))
    lines.extend(list_lines("public static let persistedState: [String] = ",
                            [swift_string(k) for k in session["persisted_state"]], 4))
    lines.append("}")
    lines.append("")

    lines.extend(doc_lines("The defaults of `rules.sampling`.", 0))
    lines.append("public enum SamplingRules {")
    lines.extend(doc_lines("Share of sessions kept when the app configures no rate.", 4))
    lines.append(f"    public static let defaultRate: Double = {swift_double(float(sampling['default_rate']))}")
    lines.append("")
    lines.extend(doc_lines("Duration from which a span is kept whatever its session's sampling says.", 4))
    lines.append("    public static let defaultLatencyThresholdMs: Int64 = "
                 f"{swift_int(sampling['default_latency_threshold_ms'])}")
    lines.append("}")
    lines.append("")

    lines.extend(doc_lines("The limits and placeholders of `rules.url_template`.", 0))
    lines.append("public enum URLTemplateRules {")
    lines.extend(doc_lines("Longest raw URL, in UTF-8 bytes, that is templated at all.", 4))
    lines.append(f"    public static let maxInputBytes = {swift_int(url_template['max_input_bytes'])}")
    lines.append("")
    lines.extend(doc_lines("Longest `url.template` value, in UTF-8 bytes.", 4))
    lines.append(f"    public static let maxTemplateBytes = {swift_int(url_template['max_template_bytes'])}")
    lines.append("")
    lines.extend(doc_lines("Replaces a path segment that identifies a record.", 4))
    lines.append(f"    public static let idPlaceholder = {swift_string(placeholders['id'])}")
    lines.append("")
    lines.extend(doc_lines("Replaces a path segment that carries personal data.", 4))
    lines.append(f"    public static let redactedPlaceholder = {swift_string(placeholders['redacted'])}")
    lines.append("}")
    lines.append("")

    lines.extend(doc_lines("The limits and patterns of `rules.privacy`.", 0))
    lines.append("public enum PrivacyRules {")
    lines.extend(doc_lines("Shortest pseudonymisation key accepted, so keyed hashes cannot be brute-forced.", 4))
    lines.append(f"    public static let hmacMinKeyBytes = {swift_int(privacy['hmac']['min_key_bytes'])}")
    lines.append("")
    lines.extend(doc_lines("Consent states, in schema order.", 4))
    lines.extend(list_lines("public static let consentStates: [String] = ",
                            [swift_string(c) for c in privacy["consent"]], 4))
    lines.append("")
    lines.extend(doc_lines("What `pii_scan` attributes are checked against, in schema order.", 4))
    lines.append("    public static let piiPatterns: [PIIPattern] = [")
    for name, pattern in privacy["pii_patterns"].items():
        lines.extend(call_lines("PIIPattern", [f"name: {swift_string(name)}",
                                               f"regex: SchemaRegex({swift_string(pattern)})"], 8, ","))
    lines.append("    ]")
    lines.append("}")
    lines.append("")

    traceparent = propagation["traceparent"]
    baggage = propagation["baggage"]
    lines.extend(doc_lines("The limits of `rules.propagation`.", 0))
    lines.append("public enum PropagationRules {")
    lines.extend(doc_lines("Longest `traceparent` accepted, checked before parsing.", 4))
    lines.append(f"    public static let traceparentMaxLength = {swift_int(traceparent['max_length'])}")
    lines.append("")
    lines.extend(doc_lines("Largest `baggage` header, in bytes.", 4))
    lines.append(f"    public static let baggageMaxBytes = {swift_int(baggage['max_bytes'])}")
    lines.append("")
    lines.extend(doc_lines("Most distinct baggage members kept.", 4))
    lines.append(f"    public static let baggageMaxMembers = {swift_int(baggage['max_members'])}")
    lines.append("")
    lines.extend(doc_lines("The baggage member that carries the session ID.", 4))
    lines.append(f"    public static let baggageSessionMember = {swift_string(baggage['session_member'])}")
    lines.append("}")

    for number, line in enumerate(lines, 1):
        if len(line) > LINE_LIMIT:
            raise SchemaError(f"generated line {number} is {len(line)} characters: {line!r}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 with a diff on drift")
    args = parser.parse_args()

    try:
        with SCHEMA_PATH.open(encoding="utf-8") as handle:
            schema = yaml.safe_load(handle)
        text = generate(schema)
    except (OSError, yaml.YAMLError, SchemaError, KeyError, TypeError) as error:
        print(f"generate_schema_catalog: {error}", file=sys.stderr)
        return 2

    current = OUTPUT_PATH.read_text(encoding="utf-8") if OUTPUT_PATH.exists() else ""
    if args.check:
        if current == text:
            return 0
        diff = difflib.unified_diff(current.splitlines(keepends=True), text.splitlines(keepends=True),
                                    fromfile=f"{OUTPUT_PATH.name} (on disk)", tofile=f"{OUTPUT_PATH.name} (generated)")
        sys.stdout.writelines(diff)
        print(f"{OUTPUT_PATH} is out of date; run python3 Scripts/generate_schema_catalog.py", file=sys.stderr)
        return 1
    if current != text:
        OUTPUT_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
