#!/bin/sh
# Builds the working corpora fuzz/corpus/<target>/ (git-ignored): the committed seeds in fuzz/seeds/
# plus inputs made from the real models under tests/data/ (too big to commit twice).
# Usage, from the project root or fuzz/: sh fuzz/make_corpus.sh
set -eu
cd "$(dirname "$0")"
data=../tests/data
mkdir -p corpus/onnx corpus/paddle_legacy corpus/paddle_pir corpus/tar corpus/preprocess
for t in onnx tar preprocess; do cp seeds/$t/* corpus/$t/; done

# ONNX: the smallest real exports (PP-LCNet x0.25 and PP-LCNetV2 tiny, 10 classes, 0.5-0.7 MB).
cp $data/models/pplcnet_x0_25_c10_logits.onnx $data/models/pplcnet_x0_25_c10_dynamic_logits.onnx \
   $data/models/pplcnetv2_tiny_opset13_logits.onnx corpus/onnx/

# Two-file targets: a little-endian u32 length of the program, the program, the parameters
# (pplcnet_fuzz::split2). Also the program alone, so that most mutations reach the program parser.
le32() {
    n=$1
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255)))"
}
join2() { # program params out
    { le32 "$(wc -c < "$1")"; cat "$1" "$2"; } > "$3"
}
pir=$data/paddle/pplcnet_x0_25_c10
join2 $pir/inference.json $pir/inference.pdiparams corpus/paddle_pir/pplcnet_x0_25_c10
join2 $pir/inference.json /dev/null corpus/paddle_pir/pplcnet_x0_25_c10_program_only
legacy=$data/paddle/pplcnetv2_x0_25_c10_legacy
join2 $legacy/inference.pdmodel $legacy/inference.pdiparams corpus/paddle_legacy/pplcnetv2_x0_25_c10
join2 $legacy/inference.pdmodel /dev/null corpus/paddle_legacy/pplcnetv2_x0_25_c10_program_only

# Archives of the PIR PP-LCNet x0.25 export, plain and gzipped.
tmp=$(mktemp -d)
mkdir "$tmp/PPLCNet_x0_25_infer"
cp $pir/inference.json $pir/inference.pdiparams "$tmp/PPLCNet_x0_25_infer/"
tar -C "$tmp" --format=ustar --owner=0 --group=0 --mtime=@0 -cf corpus/tar/pplcnet_x0_25.tar PPLCNet_x0_25_infer
gzip -9n -c corpus/tar/pplcnet_x0_25.tar > corpus/tar/pplcnet_x0_25.tar.gz
rm -r "$tmp"
du -sh corpus/*
