"""Validates an mlsecops lineage export against the vendored official schemas.

    python validate.py SCHEMAS_DIR FACETS_SCHEMA FORMAT DOCUMENT

FORMAT is cyclonedx, spdx or openlineage (DOCUMENT then holds a JSON array of
events). Everything resolves offline from SCHEMAS_DIR through a `referencing`
registry. Formats are asserted (date-time and uri strictly, since jsonschema
skips them when optional packages are missing). After the schema, the rules
the schemas cannot express are checked: unique identifiers, references that
resolve, and the SPDX AI/Dataset profile restrictions. Prints one line per
problem and exits 1 if there is any.
"""

import datetime
import json
import pathlib
import re
import sys

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")

problems = []


def load(path):
    return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))


def format_checker():
    fc = jsonschema.FormatChecker()

    @fc.checks("date-time", raises=ValueError)
    def date_time(value):
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            return False
        datetime.datetime.fromisoformat(value.upper())
        return True

    @fc.checks("uri")
    def uri(value):
        return not isinstance(value, str) or URI.match(value) is not None

    @fc.checks("iri-reference")
    def iri_reference(value):
        return not isinstance(value, str) or not re.search(r"[\s<>\"{}|\\^`]", value)

    return fc


def validate(validator, instance, what):
    for err in sorted(validator.iter_errors(instance), key=lambda e: e.json_path)[:20]:
        problems.append(f"{what}: schema: {err.json_path}: {err.message[:300]}")


def cyclonedx(schemas, bom):
    base = schemas / "cyclonedx-1.6"
    schema = load(base / "bom-1.6.schema.json")
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT7))
        for s in (load(base / "spdx.schema.json"), load(base / "jsf-0.82.schema.json"))
    )
    jsonschema.Draft7Validator.check_schema(schema)
    v = jsonschema.Draft7Validator(schema, registry=registry, format_checker=format_checker())
    validate(v, bom, "bom")

    components = list(bom.get("components", []))
    if "component" in bom.get("metadata", {}):
        components.append(bom["metadata"]["component"])
    refs = [c.get("bom-ref") for c in components]
    if len(refs) != len(set(refs)):
        problems.append("bom: duplicate bom-ref")
    kinds = {c.get("bom-ref"): c.get("type") for c in components}
    for d in bom.get("dependencies", []):
        for r in [d["ref"], *d.get("dependsOn", [])]:
            if r not in kinds:
                problems.append(f"bom: dependency names unknown bom-ref {r}")
    for c in components:
        if "modelCard" in c and c["type"] != "machine-learning-model":
            problems.append(f"bom: modelCard on a {c['type']} component")
        datasets = c.get("modelCard", {}).get("modelParameters", {}).get("datasets", [])
        for d in datasets:
            if "ref" in d and kinds.get(d["ref"]) != "data":
                problems.append(f"bom: modelCard dataset ref {d['ref']} is not a data component")


# Properties the SPDX 3.0.1 AI and Dataset profiles require beyond the schema.
SPDX_REQUIRED = {
    "ai_AIPackage": [
        "suppliedBy",
        "software_downloadLocation",
        "software_packageVersion",
        "software_primaryPurpose",
        "releaseTime",
    ],
    "dataset_DatasetPackage": [
        "builtTime",
        "originatedBy",
        "releaseTime",
        "software_downloadLocation",
        "software_primaryPurpose",
        "dataset_datasetType",
    ],
}
SPDX_INDIVIDUALS = {
    "NoAssertionElement",
    "NoneElement",
    "SpdxOrganization",
    "expandedlicensing_NoAssertionLicense",
    "expandedlicensing_NoneLicense",
}


def spdx(schemas, doc):
    schema = load(schemas / "spdx-3.0.1" / "spdx-json-schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema, format_checker=format_checker())
    validate(v, doc, "spdx")

    graph = doc.get("@graph", [])
    ids = [e["spdxId"] for e in graph if "spdxId" in e]
    if len(ids) != len(set(ids)):
        problems.append("spdx: duplicate spdxId")
    defined = set(ids) | {e["@id"] for e in graph if "@id" in e} | SPDX_INDIVIDUALS

    def refs(e):
        for key in ("from", "subject", "suppliedBy", "creationInfo"):
            if isinstance(e.get(key), str):
                yield key, e[key]
        for key in ("to", "rootElement", "element", "createdBy", "createdUsing", "originatedBy"):
            for r in e.get(key, []):
                yield key, r

    for e in graph:
        for key, r in refs(e):
            if r not in defined:
                problems.append(f"spdx: {e.get('spdxId', e.get('@id'))}.{key} -> undefined {r}")
    docs = [e for e in graph if e.get("type") == "SpdxDocument"]
    if len(docs) != 1:
        problems.append(f"spdx: {len(docs)} SpdxDocuments")
    else:
        listed = set(docs[0].get("element", []))
        for i in ids:
            if i != docs[0]["spdxId"] and i not in listed:
                problems.append(f"spdx: {i} missing from SpdxDocument.element")
    for e in graph:
        for key in SPDX_REQUIRED.get(e.get("type"), []):
            if key not in e:
                problems.append(f"spdx: {e['spdxId']} ({e['type']}) lacks {key}")
        if e.get("type") == "dataset_DatasetPackage" and len(e.get("originatedBy", [])) != 1:
            problems.append(f"spdx: {e['spdxId']} needs exactly one originatedBy")
        if e.get("type") in SPDX_REQUIRED:
            for lic in ("hasConcludedLicense", "hasDeclaredLicense"):
                n = sum(
                    1
                    for r in graph
                    if r.get("relationshipType") == lic and r.get("from") == e["spdxId"]
                )
                if n != 1:
                    problems.append(f"spdx: {e['spdxId']} has {n} {lic} relationships")


def openlineage(schemas, facets_path, events):
    base = schemas / "openlineage-2-0-2"
    core = load(base / "OpenLineage.json")
    version_facet = load(base / "DatasetVersionDatasetFacet.json")
    type_facet = load(base / "DatasetTypeDatasetFacet.json")
    ours = load(facets_path)
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012))
        for s in (core, version_facet, type_facet, ours)
    )
    fc = format_checker()

    def validator(schema):
        jsonschema.Draft202012Validator.check_schema(schema)
        return jsonschema.Draft202012Validator(schema, registry=registry, format_checker=fc)

    v_core, v_ours = validator(core), validator(ours)
    v_version, v_type = validator(version_facet), validator(type_facet)
    resolver = registry.resolver()
    if not isinstance(events, list) or not events:
        problems.append("openlineage: expected a non-empty array of events")
        return
    for i, ev in enumerate(events):
        what = f"event[{i}]"
        validate(v_core, ev, what)
        validate(v_ours, ev.get("run", {}).get("facets", {}), f"{what}.run.facets")
        for side in ("inputs", "outputs"):
            for j, ds in enumerate(ev.get(side, [])):
                where = f"{what}.{side}[{j}]"
                validate(v_version, ds.get("facets", {}), f"{where}.facets")
                validate(v_type, ds.get("facets", {}), f"{where}.facets")
                validate(v_ours, ds.get("facets", {}), f"{where}.facets")
                validate(v_ours, ds.get("inputFacets", {}), f"{where}.inputFacets")
        # Every facet's _schemaURL names a definition that resolves.
        facet_maps = [ev.get("run", {}).get("facets", {})]
        for side in ("inputs", "outputs"):
            for ds in ev.get(side, []):
                facet_maps += [ds.get("facets", {}), ds.get("inputFacets", {})]
        for fm in facet_maps:
            for name, facet in fm.items():
                url = facet.get("_schemaURL", "")
                try:
                    resolver.lookup(url)
                except Exception as err:  # noqa: BLE001 - report any lookup failure
                    problems.append(f"{what}: facet {name}: _schemaURL {url} does not resolve: {err}")
    run_ids = [ev.get("run", {}).get("runId") for ev in events]
    if len(run_ids) != len(set(run_ids)):
        problems.append("openlineage: duplicate runId")


def main():
    schemas, facets, fmt, document = sys.argv[1:5]
    schemas = pathlib.Path(schemas)
    doc = load(document)
    if fmt == "cyclonedx":
        cyclonedx(schemas, doc)
    elif fmt == "spdx":
        spdx(schemas, doc)
    elif fmt == "openlineage":
        openlineage(schemas, facets, doc)
    else:
        problems.append(f"unknown format {fmt}")
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"{fmt}: valid")


if __name__ == "__main__":
    main()
