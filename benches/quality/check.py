#!/usr/bin/env python3
"""Validate a hand-written quality benchmark set.

Usage: python3 benches/quality/check.py DIR

DIR must contain catalogue.jsonl and questions.jsonl. Standard library only.
Prints counts per kind, errors and warnings; exits 1 on any error.
"""
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

KINDS = ("direct", "paraphrase", "multi", "negative")
UNKNOWN = "Je ne connais pas cette application."
APP_REQUIRED = ("nom", "nom_complet", "description", "hébergement", "responsable",
                "utilisateurs", "technologies", "statut", "organisation")
APP_OPTIONAL = ("date_mise_en_service", "dépendances", "url")
Q_REQUIRED = ("id", "kind", "question", "keywords", "apps", "expected")
# Upper-case words that are not application names.
NOT_NAMES = {"URL", "URLS", "RH", "DSI", "SI", "API", "PDF", "SSO", "OK", "IT",
             "FEDER", "FEADER", "FSE", "SAAS", "SQL", "IA", "ENT", "DRH"}


def norm(text):
    """NFKD, drop combining marks, lowercase, non-alphanumeric runs -> one space."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def norm_name(text):
    """Name key: normalised, hyphens and spaces ignored."""
    return norm(text).replace(" ", "")


def contains_words(haystack, needle):
    """Whole-word containment on normalised strings."""
    n = norm(needle)
    return bool(n) and f" {n} " in f" {haystack} "


def flatten(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from flatten(v)
    elif isinstance(value, list):
        for v in value:
            yield from flatten(v)
    elif value is not None:
        yield str(value)


def read_jsonl(path, errors):
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        errors.append(f"{path}: cannot read: {e}")
        return rows
    for i, line in enumerate(lines, 1):
        if not line.strip():
            errors.append(f"{path.name}:{i}: empty line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{path.name}:{i}: invalid JSON: {e}")
            continue
        if not isinstance(obj, dict):
            errors.append(f"{path.name}:{i}: not a JSON object")
            continue
        rows.append((i, obj))
    return rows


# Runs of upper-case words (letters/digits, may contain hyphens), joined by spaces/hyphens.
UPPER_WORD = r"[A-ZÀ-ÖØ-Þ0-9]*[A-ZÀ-ÖØ-Þ][A-ZÀ-ÖØ-Þ0-9]*"
UPPER_RUN = re.compile(rf"(?<![\w]){UPPER_WORD}(?:[- ]{UPPER_WORD})*(?![\w])")


def upper_names(question):
    names = []
    for m in UPPER_RUN.finditer(question):
        run = m.group(0)
        if len(norm_name(run)) < 2:
            continue
        parts = [p for p in re.split(r"[- ]", run) if p]
        if all(p in NOT_NAMES for p in parts):
            continue
        names.append(run)
    return names


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = Path(argv[1])
    errors, warnings = [], []

    # ---- catalogue -------------------------------------------------------
    apps = {}
    for i, app in read_jsonl(root / "catalogue.jsonl", errors):
        where = f"catalogue.jsonl:{i}"
        for f in APP_REQUIRED:
            if f not in app or app[f] in ("", None, []):
                errors.append(f"{where}: missing field {f!r}")
        name = app.get("nom")
        if not isinstance(name, str) or not name:
            continue
        if name != name.upper():
            errors.append(f"{where}: name {name!r} is not upper case")
        key = norm_name(name)
        if any(norm_name(n) == key for n in apps):
            errors.append(f"{where}: duplicate name {name!r} (after normalisation)")
        apps[name] = app
        for f in ("utilisateurs", "technologies"):
            v = app.get(f)
            if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                errors.append(f"{where}: {f!r} must be a list of strings")
        if "dépendances" in app and not isinstance(app["dépendances"], list):
            errors.append(f"{where}: 'dépendances' must be a list")
        for f, v in app.items():
            if f not in ("utilisateurs", "technologies", "dépendances") and not isinstance(v, str):
                errors.append(f"{where}: field {f!r} must be a string")
        url = app.get("url")
        if url is not None and not re.fullmatch(r"https://[a-z0-9.-]+(/\S*)?", str(url)):
            errors.append(f"{where}: odd url {url!r}")
    for name, app in apps.items():
        for dep in app.get("dépendances") or []:
            if dep not in apps:
                errors.append(f"catalogue: {name} depends on unknown app {dep!r}")
            if dep == name:
                errors.append(f"catalogue: {name} depends on itself")
    orgs = {a.get("organisation") for a in apps.values()}
    if len(orgs) > 1:
        warnings.append(f"catalogue: several organisations: {sorted(map(str, orgs))}")
    missing_opt = [n for n, a in apps.items() if any(f not in a for f in APP_OPTIONAL)]
    texts = {n: norm(" ".join(flatten(a))) for n, a in apps.items()}
    name_keys = {norm_name(n): n for n in apps}

    # ---- questions -------------------------------------------------------
    counts = Counter()
    seen_ids = set()
    app_use = Counter()
    for i, q in read_jsonl(root / "questions.jsonl", errors):
        qid = q.get("id", f"line {i}")
        where = f"questions.jsonl:{i} ({qid})"
        for f in Q_REQUIRED:
            if f not in q:
                errors.append(f"{where}: missing field {f!r}")
        if any(f not in q for f in Q_REQUIRED):
            continue
        if qid in seen_ids:
            errors.append(f"{where}: duplicate id")
        seen_ids.add(qid)
        kind = q["kind"]
        if kind not in KINDS:
            errors.append(f"{where}: unknown kind {kind!r}")
            continue
        counts[kind] += 1
        kws, qapps = q["keywords"], q["apps"]
        if not (isinstance(kws, list) and all(isinstance(k, str) for k in kws)):
            errors.append(f"{where}: keywords must be a list of strings")
            continue
        if not (isinstance(qapps, list) and all(isinstance(a, str) for a in qapps)):
            errors.append(f"{where}: apps must be a list of strings")
            continue
        if not isinstance(q["question"], str) or not q["question"].strip():
            errors.append(f"{where}: empty question")
            continue
        for a in qapps:
            if a not in apps:
                errors.append(f"{where}: app {a!r} not in catalogue")
            app_use[a] += 1
        if kind == "negative":
            if kws or qapps:
                errors.append(f"{where}: negative question must have empty keywords and apps")
            if q["expected"] != UNKNOWN:
                warnings.append(f"{where}: negative expected is not {UNKNOWN!r}")
            names = upper_names(q["question"])
            if not names:
                errors.append(f"{where}: no upper-case application name found in question")
            for n in names:
                if norm_name(n) in name_keys:
                    errors.append(f"{where}: {n!r} is the catalogue app {name_keys[norm_name(n)]}")
            continue
        if not kws:
            errors.append(f"{where}: no keywords")
        if not qapps:
            errors.append(f"{where}: no apps")
        union = " ".join(texts.get(a, "") for a in qapps)
        exp = norm(q["expected"])
        nq = norm(re.sub(r"https?://\S+", " ", q["question"]))  # a URL clue may contain the name
        for k in kws:
            if not norm(k):
                errors.append(f"{where}: empty keyword {k!r}")
            elif not contains_words(union, k):
                errors.append(f"{where}: keyword {k!r} not found (whole words) in records {qapps}")
            if norm(k) and not contains_words(exp, k):
                errors.append(f"{where}: keyword {k!r} missing from expected answer")
            if norm_name(k) in {norm_name(a) for a in qapps} and contains_words(nq, k):
                warnings.append(f"{where}: keyword {k!r} is an app named in the question")
        if len(set(map(norm, kws))) != len(kws):
            warnings.append(f"{where}: duplicate keywords")

    # ---- report ----------------------------------------------------------
    unused = sorted(n for n in apps if app_use[n] == 0)
    once = sorted(n for n in apps if app_use[n] == 1)
    print(f"{root}: {len(apps)} applications ({len(missing_opt)} with optional fields missing), "
          f"{sum(counts.values())} questions")
    for k in KINDS:
        print(f"  {k:<11}{counts[k]}")
    if unused:
        warnings.append(f"apps never asked about: {', '.join(unused)}")
    if once:
        warnings.append(f"apps asked about only once: {', '.join(once)}")
    for w in warnings:
        print(f"WARNING: {w}")
    for e in errors:
        print(f"ERROR: {e}")
    print("OK" if not errors else f"FAILED: {len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
