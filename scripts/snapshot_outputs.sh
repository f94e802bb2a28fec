#!/usr/bin/env bash
# Run every command on the reference inputs and keep all they write and print, so that a refactor can prove
# its output byte-identical:  scripts/snapshot_outputs.sh /tmp/before; (change); scripts/snapshot_outputs.sh
# /tmp/after; diff -r /tmp/before /tmp/after
# Inputs: the example study (CSV), its ODM export, and, when ../shared/external is beside the clone, CDISC's
# Dataset-JSON example SDTM and the CDISC pilot package. Exit statuses are recorded, not acted on.
set -u
out=${1:?usage: snapshot_outputs.sh OUTDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
tool=${MSC_INTEROP:-$here/.venv/bin/msc-interop}
ext=$here/../shared/external
export SOURCE_DATE_EPOCH=1767225600  # 2026-01-01T00:00:00Z: pins Dataset-JSON / Define-XML timestamps
rm -rf "$out" && mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/commands.log

run() {  # run NAME ARGS...: the command's stdout/stderr/exit status, with the output folder's path made relative
  local name=$1; shift
  "$tool" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr"; echo "exit $?" >"$out/$name.exit"
  echo "$name: msc-interop $*" >>"$log"
}

declare -A inputs=(
  [example]="$here/fixtures/example_study"
  [odm]="$here/fixtures/example_study_odm/example_study.odm.xml"
)
[ -d "$ext/dataset-json/examples-v1.1/sdtm" ] && inputs[cdisc_examples]="$ext/dataset-json/examples-v1.1/sdtm"
[ -d "$ext/cdisc-pilot-original" ] && inputs[cdisc_pilot]="$ext/cdisc-pilot-original"

cd "$out"  # output paths are relative, so that two snapshot folders compare
for name in $(printf '%s\n' "${!inputs[@]}" | sort); do
  src=${inputs[$name]}
  zone=""  # CDISC's SDTM packages do not say their times' zone: to-fhir needs one (UTC, as it used to assume)
  case $name in cdisc_*) zone="--timezone UTC";; esac
  run "$name.to-sdtm" to-sdtm "$src" -o "$name/sdtm" --format xpt,json,ndjson,csv
  run "$name.to-fhir-r4" to-fhir "$src" -o "$name/fhir-r4" --bundle transaction --ndjson $zone
  run "$name.to-fhir-r5" to-fhir "$src" -o "$name/fhir-r5" --fhir-version R5 --ndjson $zone
  run "$name.from-fhir-r4" from-fhir "$name/fhir-r4/bundle.json" -o "$name/from-fhir-r4"
  run "$name.from-fhir-r5" from-fhir "$name"/fhir-r5/*.ndjson -o "$name/from-fhir-r5" --format json,csv
  run "$name.validate-input" validate "$src" --report "$name/validate-input.json"
  run "$name.validate-sdtm" validate "$name/sdtm" --report "$name/validate-sdtm.csv"
  run "$name.validate-fhir" validate "$name/fhir-r4/bundle.json" "$name/fhir-r5/bundle.json" \
    --report "$name/validate-fhir.json"
  run "$name.summary" summary "$src" -o "$name/summary"
  run "$name.summary-fhir" summary "$name/fhir-r4/bundle.json" -o "$name/summary-fhir" --format md,csv
done
# absolute paths of this machine out of everything kept, so two snapshot folders compare
grep -rlF "$out" "$out" | xargs -r sed -i "s#$out#OUT#g"
grep -rlF "$here" "$out" | xargs -r sed -i "s#$here#REPO#g"
echo "snapshot in $out ($(find "$out" -type f | wc -l) files)"
