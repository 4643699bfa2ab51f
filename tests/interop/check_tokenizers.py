# SPDX-License-Identifier: GPL-3.0-or-later
"""Tokenizers against independent implementations.

tokenizer.json: six tokenizers generated here (GPT-2, Llama-3, Llama-2, BERT, uncased BERT with
normalized added tokens and truncation/padding, and RoBERTa styles, trained on the TinyStories
sample) are run through `quantscope-cli tokenize` and through
Hugging Face's own JavaScript implementation (@huggingface/tokenizers, installed in
tests/interop/node by packaging/install-deps.sh); ids and decoded text must agree.
SentencePiece: models trained with Python's sentencepiece, compared with its encode/decode.
nanoGPT meta.pkl: a character vocabulary pickled by Python, compared with its stoi/itos.

quantscope-cli starts slowly (libtorch), so the texts go to it joined by a special token that
both sides split on first: one run covers every line and tricky string, and a mismatch is
reported with the text it falls in.

The GPT-2, RoBERTa and BERT cases also run from the older files that many checkpoints ship instead
of tokenizer.json (vocab.json + merges.txt, vocab.txt, with tokenizer_config.json): our ids from
those must equal the JS library's from the equivalent tokenizer.json.
"""
import json
import os
import pickle
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from interop_common import setup

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "..", "..", "shared", "models", "stories260K", "tinystories_valid_sample10.txt")
NODE_DIR = os.path.join(HERE, "node")

MULTILINGUAL = [
    "Le café est très bon, n'est-ce pas? Ça coûte 3,50 €.",
    "Der Bär läuft über die Straße und ißt Äpfel.",
    "El niño comió piñata en la mañana.",
    "Привет, как дела? Всё хорошо.",
    "日本語のテキストです。東京は大きい。",
    "中文字符和标点，还有数字123。",
    "한국어 문장도 있습니다.",
    "Emoji: 😀 👍🏽 🇫🇷 ❤️ and family 👨‍👩‍👧‍👦.",
    "Ελληνικά γράμματα και αριθμοί 42.",
]

TRICKY = [
    "I'm sure you'll see it's Tom's and they've been there, they'd said, we're fine.",
    "I'M SURE YOU'LL SEE IT'S TOM'S AND THEY'VE 'S 'LL 'RE 'VE 'M 'D 'T",
    "1 12 123 1234 12345 123456 1234567 and 3.14159 and 1,000,000",
    "a  b   c    d     e",
    "trailing spaces   ",
    "   leading spaces",
    " one leading space",
    "line1\nline2\n\nline3\r\nline4\r\n\r\nend\n",
    "\n\nstarts with newlines",
    "tab\there\t\tx \t y\t",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c0\u00c9\u00ce\u00d5\u00dc",
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u0300E\u0301",
    "\u65e5\u672c\u8a9e \u4e2d\u6587 \ud55c\uad6d\uc5b4 mixed\u6f22\u5b57text",
    "emoji \U0001F600\U0001F44D\U0001F3FD \U0001F1EB\U0001F1F7 \u2764\ufe0f",
    "family \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 and zero\u200dwidth\u200cnon\u200bjoiner",
    "nbsp\u00a0here and\u3000ideographic and\u2009thin",
    "mixed123abc ABC123 x1y2z3 __init__ foo_bar",
    "punctuation!!! ??? ... --- \"quoted\" (paren) [bracket] {brace} @#$%^&*",
    "ligature \ufb01 and \u2163 roman and \u00bd half",
    "control\x07bell and \x1b escape",
    "URL https://example.com/path?q=1&x=2#frag",
    "NewTok newtok NEWTOK xNewTokx [EXTRA] [extra] [Extra]",
    "x",
    " ",
    "\t",
]


# ---------------------------------------------------------------------------------------------
# training

def bytes_to_unicode():
    """GPT-2's byte <-> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_CHAR = bytes_to_unicode()
GPT2_SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+")


def train_merges(words, merges_wanted, vocab):
    """Plain BPE on {tuple of symbols: count}; extends `vocab` (list) and returns the merges."""
    seen = set(vocab)
    merges = []
    for _ in range(merges_wanted):
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs, key=lambda p: (pairs[p], p))
        if pairs[best] < 2:
            break
        merges.append(best)
        joined = best[0] + best[1]
        if joined not in seen:
            seen.add(joined)
            vocab.append(joined)
        updated = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == best[0] and w[i + 1] == best[1]:
                    out.append(joined)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            updated[tuple(out)] += c
        words = updated
    return merges


def byte_level_bpe(corpus, merges_wanted):
    vocab = [BYTE_CHAR[b] for b in range(256)]
    words = Counter(tuple(BYTE_CHAR[b] for b in w.encode("utf-8")) for w in GPT2_SPLIT.findall(corpus))
    merges = train_merges(words, merges_wanted, vocab)
    return vocab, merges


def added(token_id, content, special=True, lstrip=False, rstrip=False, normalized=False):
    return {"id": token_id, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def bpe_model(vocab, merges, **extra):
    model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
             "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
             "vocab": {t: i for i, t in enumerate(vocab)}, "merges": [[a, b] for a, b in merges]}
    model.update(extra)
    return model


def template(prefix_tokens, vocab_ids):
    single = [{"SpecialToken": {"id": t, "type_id": 0}} for t in prefix_tokens] + [{"Sequence": {"id": "A", "type_id": 0}}]
    pair = single + [{"Sequence": {"id": "B", "type_id": 1}}]
    return {"type": "TemplateProcessing", "single": single, "pair": pair,
            "special_tokens": {t: {"id": t, "ids": [vocab_ids[t]], "tokens": [t]} for t in prefix_tokens}}


BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def make_gpt2(corpus):
    vocab, merges = byte_level_bpe(corpus, 300)
    eot = len(vocab)
    vocab.append("<|endoftext|>")
    return {"version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [added(eot, "<|endoftext|>")], "normalizer": None,
            "pre_tokenizer": dict(BYTE_LEVEL), "post_processor": dict(BYTE_LEVEL), "decoder": dict(BYTE_LEVEL),
            "model": bpe_model(vocab, merges)}, "<|endoftext|>"


def make_llama3(corpus):
    vocab, merges = byte_level_bpe(corpus, 300)
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    ids = {}
    for s in specials:
        ids[s] = len(vocab)
        vocab.append(s)
    return {"version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [added(ids[s], s) for s in specials], "normalizer": None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
            "post_processor": {"type": "Sequence", "processors": [
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
                template(["<|begin_of_text|>"], ids)]},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": bpe_model(vocab, merges, ignore_merges=True)}, "<|end_of_text|>"


def make_llama2(corpus):
    vocab = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    normalized = "\u2581" + corpus.replace(" ", "\u2581")
    # characters seen often enough; the rest (newlines, most non-Latin scripts, emoji) fall back to bytes
    counts = Counter(normalized)
    chars = sorted(c for c, n in counts.items() if n >= 3 and c not in "\n\r")
    vocab += chars
    known = set(chars)
    words = Counter(tuple(w) for w in re.findall("\u2581*[^\u2581\n\r]+", normalized) if set(w) <= known)
    merges = train_merges(words, 300, vocab)
    return {"version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")],
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
            "pre_tokenizer": None,
            "post_processor": template(["<s>"], {"<s>": 1}),
            "decoder": {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
            "model": bpe_model(vocab, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True)}, "</s>"


def bert_normalize(text):
    text = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in text if unicodedata.category(c) != "Mn")


def make_bert(corpus):
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = list(specials)
    norm = bert_normalize(corpus)
    chars = sorted(c for c, n in Counter(norm).items() if n >= 2 and not c.isspace())
    vocab += chars
    vocab += ["##" + c for c in chars if c.isalnum()]
    words = Counter(re.findall(r"[a-z]+", norm))
    vocab += [w for w, _ in words.most_common(150) if len(w) > 1]
    vocab += ["##ing", "##ed", "##s", "##ly", "##er", "##y", "##ed", "##en", "##ow"]
    vocab = list(dict.fromkeys(vocab))
    ids = {t: i for i, t in enumerate(vocab)}
    return {"version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [added(ids[s], s) for s in specials],
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": None, "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", ids["[SEP]"]], "cls": ["[CLS]", ids["[CLS]"]]},
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": ids}}, "[SEP]"


def make_bert_added(corpus):
    """Uncased BERT with the truncation/padding sections real files carry (both ignored by
    encode) and added tokens with normalized: true, a plain one and a special one: the library
    normalizes their content ("NewTok" -> "newtok") and matches it in the normalized text, so
    "NEWTOK" and "newtok" are that token too."""
    tok, sep = make_bert(corpus)
    tok["truncation"] = {"direction": "Right", "max_length": 8, "strategy": "LongestFirst", "stride": 0}
    tok["padding"] = {"strategy": {"Fixed": 16}, "direction": "Right", "pad_to_multiple_of": None,
                      "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}
    n = len(tok["model"]["vocab"])
    tok["added_tokens"] += [added(n, "NewTok", special=False, normalized=True),
                            added(n + 1, "[Extra]", special=True, normalized=True)]
    return tok, sep


def make_roberta(corpus):
    bl_vocab, merges = byte_level_bpe(corpus, 300)
    vocab = ["<s>", "<pad>", "</s>", "<unk>"] + bl_vocab + ["<mask>"]
    mask = len(vocab) - 1
    byte_level = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    return {"version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [added(0, "<s>", normalized=True), added(1, "<pad>", normalized=True),
                             added(2, "</s>", normalized=True), added(3, "<unk>", normalized=True),
                             added(mask, "<mask>", lstrip=True)],
            "normalizer": None, "pre_tokenizer": byte_level,
            "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                               "trim_offsets": True, "add_prefix_space": True},
            "decoder": dict(byte_level), "model": bpe_model(vocab, merges)}, "</s>"


def write_slow_files(name, tok, workdir):
    """The older Hugging Face files equivalent to `tok` (vocab.json + merges.txt, or vocab.txt,
    with tokenizer_config.json) in their own folder; returns the vocabulary file to load."""
    folder = os.path.join(workdir, name + "_slow")
    os.makedirs(folder, exist_ok=True)
    model = tok["model"]
    if model["type"] == "WordPiece":
        tokens = sorted(model["vocab"], key=model["vocab"].get)
        with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8", newline="") as f:
            f.write("".join(t + "\n" for t in tokens))
        norm = tok["normalizer"]
        config = {"tokenizer_class": "BertTokenizer", "do_lower_case": norm["lowercase"],
                  "strip_accents": norm["strip_accents"], "tokenize_chinese_chars": norm["handle_chinese_chars"]}
        vocab_file = "vocab.txt"
    else:
        with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(model["vocab"], f, ensure_ascii=False)
        with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8", newline="") as f:
            f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in model["merges"]))
        roberta = tok["post_processor"]["type"] == "RobertaProcessing"
        config = {"tokenizer_class": "RobertaTokenizer" if roberta else "GPT2Tokenizer",
                  "add_prefix_space": tok["pre_tokenizer"]["add_prefix_space"]}
        vocab_file = "vocab.json"
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)
    return os.path.join(folder, vocab_file)


# ---------------------------------------------------------------------------------------------
# running

class Checks:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def ran(self, what, ours):
        if "error" not in ours:
            return True
        self.failures.append(f"{what}: {ours['error']}")
        print("FAIL", self.failures[-1], file=sys.stderr)
        return False

    def equal(self, what, ours, theirs, texts=None, sep_id=None):
        if ours == theirs:
            self.passed += 1
            return True
        if isinstance(ours, str) or isinstance(theirs, str):
            pos = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            msg = f"{what}: decoded text differs at character {pos}: ours {ours[max(0, pos - 20):pos + 20]!r}, " \
                  f"theirs {theirs[max(0, pos - 20):pos + 20]!r}"
        else:
            pos = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            msg = f"{what}: ids differ at position {pos} (ours {len(ours)}, theirs {len(theirs)}): " \
                  f"ours {ours[max(0, pos - 3):pos + 6]}, theirs {theirs[max(0, pos - 3):pos + 6]}"
            if texts is not None and sep_id is not None:
                segment = sum(1 for t in theirs[:pos] if t == sep_id)
                if segment < len(texts):
                    msg += f"; in text {segment}: {texts[segment]!r}"
        self.failures.append(msg)
        print("FAIL", msg, file=sys.stderr)
        return False


def run_cli(cli, tokenizer, text_file, special):
    cmd = [cli, "tokenize", tokenizer, "--file", text_file, "--json"]
    if not special:
        cmd.append("--no-special")
    r = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8")
    if r.returncode != 0:
        return {"error": f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-400:]}"}
    return json.loads(r.stdout)


def write_text(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return path


def run_node(tokenizer_path, texts, workdir, name):
    texts_path = os.path.join(workdir, name + ".texts.json")
    with open(texts_path, "w", encoding="utf-8") as f:
        json.dump(texts, f)
    r = subprocess.run(["node", os.path.join(NODE_DIR, "encode.mjs"), tokenizer_path, texts_path],
                       capture_output=True, text=True, encoding="utf-8", cwd=NODE_DIR)
    if r.returncode != 0:
        raise RuntimeError(f"node encode.mjs {name} failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def main():
    args, _ = setup(with_demo=False)
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@huggingface", "tokenizers")):
        sys.exit("check_tokenizers: tests/interop/node/node_modules/@huggingface/tokenizers is missing; "
                 "run packaging/install-deps.sh (it runs npm ci there)")
    with open(SAMPLE, encoding="utf-8") as f:
        sample = f.read()
    lines = [l for l in sample.split("\n") if l.strip()]
    corpus = sample + "\n" + "\n".join(MULTILINGUAL) + "\n"
    checks = Checks()
    pool = ThreadPoolExecutor(max_workers=2)
    work = args.workdir

    # -- tokenizer.json against @huggingface/tokenizers --------------------------------------
    makers = {"gpt2": make_gpt2, "llama3": make_llama3, "llama2": make_llama2, "bert": make_bert,
              "bert_added": make_bert_added, "roberta": make_roberta}
    jobs = []
    for name, make in makers.items():
        tok, sep = make(corpus)
        path = os.path.join(work, name + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False, indent=1)
        specials = [t["content"] for t in tok["added_tokens"] if t["special"]]
        embedded = [f"{specials[0]}Hello {specials[-1]} world{sep}!",
                    f"before {' '.join(specials)} after",
                    f"a{sep}{sep}b   {specials[-1]}   c"]
        if name == "roberta":
            embedded.append("The capital is <mask> and <mask>, <mask>.")
        segments = lines + MULTILINGUAL + TRICKY + embedded
        batch = sep.join(segments)
        # texts that also run on their own (the start of a text matters to prefix spaces)
        alone = [sample, batch, "", "   leading spaces", embedded[0]]
        theirs = run_node(path, alone + segments, work, name)
        # GPT-2, RoBERTa and BERT also as their older files (vocab.json + merges.txt / vocab.txt),
        # which we turn into the same tokenizer; the JS side keeps the tokenizer.json
        variants = [(name, path)]
        if name in ("gpt2", "roberta", "bert"):
            variants.append((name + " (slow files)", write_slow_files(name, tok, work)))
        for i, text in enumerate(alone):
            text_file = write_text(work, f"{name}.text{i}.txt", text)
            for label, tokenizer in variants:
                for special in (True, False):
                    jobs.append((label, tokenizer, sep, tok, segments, i, text, text_file, special, theirs[i],
                                 pool.submit(run_cli, args.cli, tokenizer, text_file, special)))
        # JS on each segment alone must agree with JS on the joined text (both sides split on the
        # separator first), so the joined run above stands for every segment
        sep_id = next(t["id"] for t in tok["added_tokens"] if t["content"] == sep)
        joined = []
        for k, r in enumerate(theirs[len(alone):]):
            if k:
                joined.append(sep_id)
            joined += r["ids_plain"]
        if joined != theirs[1]["ids_plain"]:
            print(f"note: {name}: the JS library's joined encoding is not the join of its segment encodings",
                  file=sys.stderr)

    for name, path, sep, tok, segments, i, text, text_file, special, js, future in jobs:
        ours = future.result()
        what = f"{name} text {i} ({text[:40]!r}{'...' if len(text) > 40 else ''}) {'with' if special else 'without'} special tokens"
        sep_id = next(t["id"] for t in tok["added_tokens"] if t["content"] == sep)
        key = "ids" if special else "ids_plain"
        if not checks.ran(what, ours):
            continue
        if checks.equal(what + " ids", ours["ids"], js[key], segments if i == 1 else None, sep_id):
            checks.equal(what + " decode", ours["decoded"], js["decoded" if special else "decoded_plain"])
        if name in ("gpt2", "llama3") and not special:
            # byte-level without prefix space: decoding gives back the text, special tokens aside
            plain = text
            for t in tok["added_tokens"]:
                plain = plain.replace(t["content"], "")
            checks.equal(what + " round trip", ours["decoded"], plain)

    # -- SentencePiece against Python's sentencepiece ----------------------------------------
    import sentencepiece as spm
    corpus_file = write_text(work, "sp_corpus.txt", corpus)
    sp_jobs = []
    for name, kwargs in [("sp_bpe", dict(model_type="bpe", vocab_size=400)),
                         ("sp_unigram", dict(model_type="unigram", vocab_size=400)),
                         ("sp_bytes", dict(model_type="bpe", vocab_size=500, byte_fallback=True))]:
        prefix = os.path.join(work, name)
        spm.SentencePieceTrainer.train(input=corpus_file, model_prefix=prefix, character_coverage=0.995,
                                       user_defined_symbols=["<sep>"], hard_vocab_limit=False,
                                       minloglevel=2, num_threads=1, **kwargs)
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
        sep_id = sp.piece_to_id("<sep>")
        segments = lines + MULTILINGUAL + TRICKY
        for i, text in enumerate([sample, "<sep>".join(segments), "", "  two leading spaces"]):
            text_file = write_text(work, f"{name}.text{i}.txt", text)
            for special in (True, False):
                sp_jobs.append((name, sp, sep_id, segments, i, text, special,
                                pool.submit(run_cli, args.cli, prefix + ".model", text_file, special)))
    for name, sp, sep_id, segments, i, text, special, future in sp_jobs:
        ours = future.result()
        what = f"{name} text {i} ({text[:40]!r}) {'with' if special else 'without'} BOS"
        expected = sp.encode(text)
        if not checks.ran(what, ours):
            continue
        if special and sp.bos_id() >= 0:
            expected = [sp.bos_id()] + expected
        if checks.equal(what + " ids", ours["ids"], expected, segments if i == 1 else None, sep_id):
            checks.equal(what + " decode", ours["decoded"], sp.decode(expected))
        checks.equal(what + " vocab size", ours["vocab_size"], sp.get_piece_size())

    # -- nanoGPT meta.pkl against Python's pickle --------------------------------------------
    chars = sorted(set(corpus))
    meta = {"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": {c: i for i, c in enumerate(chars)}}
    char_jobs = []
    for protocol in sorted({4, pickle.HIGHEST_PROTOCOL}):
        path = os.path.join(work, f"meta_p{protocol}.pkl")
        with open(path, "wb") as f:
            pickle.dump(meta, f, protocol=protocol)
        text_file = write_text(work, f"char_p{protocol}.txt", corpus)
        for special in (True, False):
            char_jobs.append((protocol, special, pool.submit(run_cli, args.cli, path, text_file, special)))
    for protocol, special, future in char_jobs:
        ours = future.result()
        what = f"meta.pkl protocol {protocol} {'with' if special else 'without'} special tokens"
        if not checks.ran(what, ours):
            continue
        checks.equal(what + " ids", ours["ids"], [meta["stoi"][c] for c in corpus])
        checks.equal(what + " decode", ours["decoded"], corpus)
        checks.equal(what + " vocab size", ours["vocab_size"], len(chars))

    pool.shutdown()
    print(f"check_tokenizers: {checks.passed} passed, {len(checks.failures)} failed")
    if checks.failures:
        for f in checks.failures:
            print("  " + f)
        sys.exit(1)


if __name__ == "__main__":
    main()
