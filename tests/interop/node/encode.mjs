// SPDX-License-Identifier: GPL-3.0-or-later
// Encodes texts with Hugging Face's own JavaScript tokenizer.json implementation
// (@huggingface/tokenizers), for tests/interop/check_tokenizers.py.
//   node encode.mjs TOKENIZER_JSON TEXTS_JSON
// TEXTS_JSON holds a list of strings. Prints one JSON list with, per text,
// {"ids": with special tokens, "ids_plain": without, "decoded": decode(ids) skipping special
// tokens, "decoded_plain": decode(ids_plain) skipping special tokens}.
import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

const [tokenizerPath, textsPath] = process.argv.slice(2);
if (!tokenizerPath || !textsPath) {
    console.error("usage: node encode.mjs TOKENIZER_JSON TEXTS_JSON");
    process.exit(2);
}
const tokenizerJson = JSON.parse(readFileSync(tokenizerPath, "utf8"));
const texts = JSON.parse(readFileSync(textsPath, "utf8"));
// clean_up_tokenization_spaces is a transformers option, not part of tokenizer.json decoding.
const tokenizer = new Tokenizer(tokenizerJson, { clean_up_tokenization_spaces: false });
const decode = (ids) => (ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: true }));
const out = texts.map((text) => {
    const ids = tokenizer.encode(text, { add_special_tokens: true }).ids;
    const idsPlain = tokenizer.encode(text, { add_special_tokens: false }).ids;
    return { ids, ids_plain: idsPlain, decoded: decode(ids), decoded_plain: decode(idsPlain) };
});
process.stdout.write(JSON.stringify(out) + "\n");
