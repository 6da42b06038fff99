#!/usr/bin/env python3
"""Writes gemma3_cases.json: reference token ids for tests/tokenizer_gemma3.rs.

The ids come from Google's SentencePiece library (not from dyag): the GGUF's
vocabulary (pieces, scores, token types) is put back into a SentencePiece BPE
ModelProto with Gemma's settings (byte fallback, no dummy prefix, no whitespace
normalisation) and the library encodes each text. User-defined pieces get their
'▁' back (convert_hf_to_gguf turned Gemma's whitespace pieces '▁▁' into '  ').
SentencePiece never parses control tokens, so for parse_special cases the text is
first cut on control tokens (leftmost-longest, as HF and dyag do) and each plain
run is encoded on its own. This setup reproduces the three reference prompts of
tests/data/refs/gemma3_270m_reference.json exactly (checked below).

Usage: python3 make_gemma3_cases.py MODEL.gguf [REFERENCE.json] > gemma3_cases.json
Needs: pip install gguf sentencepiece protobuf
"""
import json
import sys

import sentencepiece as spm
from gguf import GGUFReader
from sentencepiece import sentencepiece_model_pb2 as pb

LONG = (
    "GIDAF est une application interne qui gère les dossiers administratifs des agents. "
    "Elle est hébergée sur le serveur srv-app-03 et sauvegardée chaque nuit à 02h00 ; "
    "les sauvegardes sont chiffrées (AES-256) et conservées 30 jours. "
    "L'équipe « Outils RH » en est responsable : contactez-la via le canal #outils-rh.\n"
)
LONG = (LONG * 9)[:2048]

CASES = [
    ("The capital of France is", False),
    ("Qu'est-ce que GIDAF ? GIDAF est une application", False),
    ("def fibonacci(n):\n    if n <", False),
    ("L'application « Annuaire » gère l'équipe ; où est-elle hébergée ? Ça dépend : l'hôte s'appelle srv-01.", False),
    ("Élève naïf — 100 € ✓ déjà vu, cœur, Noël, Œuvre, garçon.", False),
    ("Ligne 1\nLigne 2\n\n\tindentée\t\tfin\r\n  deux espaces   trois    quatre", False),
    ("  leading and trailing spaces  ", False),
    ("Emoji 🦀🚀🧑‍💻 et 日本語, 한국어, ∑ x² ≠ 𝔘 𓀀 \U0010fffd", False),
    ("fn main() {\n    println!(\"{}\", 42);\n}\n", False),
    ("<start_of_turn>user\nBonjour, qui gère GIDAF ?<end_of_turn>\n<start_of_turn>model\n", True),
    ("<start_of_turn>user\nBonjour, qui gère GIDAF ?<end_of_turn>\n<start_of_turn>model\n", False),
    ("<bos><start_of_turn>user\nSalut<end_of_turn>\n", True),
    ("texte <table> avec </s> des balises", False),
    (LONG, False),
]


def main():
    reader = GGUFReader(sys.argv[1])
    f = reader.fields
    tokens = f["tokenizer.ggml.tokens"].contents()
    scores = f["tokenizer.ggml.scores"].contents()
    types = f["tokenizer.ggml.token_type"].contents()

    T = pb.ModelProto.SentencePiece
    kinds = {1: T.NORMAL, 2: T.UNKNOWN, 3: T.CONTROL, 4: T.USER_DEFINED, 5: T.UNUSED, 6: T.BYTE}
    m = pb.ModelProto()
    for tok, score, ty in zip(tokens, scores, types):
        p = m.pieces.add()
        p.piece = tok.replace(" ", "\u2581") if ty == 4 else tok
        p.score = score
        p.type = kinds[ty]
    unk = f["tokenizer.ggml.unknown_token_id"].contents()
    m.pieces[unk].type = T.UNKNOWN  # SentencePiece wants its unk piece typed UNKNOWN
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.unk_id = unk
    m.trainer_spec.bos_id = f["tokenizer.ggml.bos_token_id"].contents()
    m.trainer_spec.eos_id = f["tokenizer.ggml.eos_token_id"].contents()
    m.trainer_spec.pad_id = f["tokenizer.ggml.padding_token_id"].contents()
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = False
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = True
    sp = spm.SentencePieceProcessor(model_proto=m.SerializeToString())

    controls = sorted(((t, i) for i, (t, ty) in enumerate(zip(tokens, types)) if ty in (2, 3) and t),
                      key=lambda x: -len(x[0]))

    def encode(text, parse_special):
        if not parse_special:
            return sp.encode(text)
        out, run, i = [], "", 0
        while i < len(text):
            hit = next(((t, tid) for t, tid in controls if text.startswith(t, i)), None)
            if hit:
                if run:
                    out += sp.encode(run)
                    run = ""
                out.append(hit[1])
                i += len(hit[0])
            else:
                run += text[i]
                i += 1
        if run:
            out += sp.encode(run)
        return out

    if len(sys.argv) > 2:
        refs = json.load(open(sys.argv[2]))
        for name, p in refs["prompts"].items():
            got = [2] + encode(p["text"], False)
            assert got == p["token_ids"], (name, got, p["token_ids"])
        print("the three reference prompts match", file=sys.stderr)

    cases = [{"text": t, "parse_special": ps, "ids": encode(t, ps)} for t, ps in CASES]
    json.dump({"made_by": "tests/data/tokenizer/make_gemma3_cases.py (SentencePiece "
               + spm.__version__ + ")", "model": "gemma-3-270m-q4_k_m.gguf", "cases": cases},
              sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
