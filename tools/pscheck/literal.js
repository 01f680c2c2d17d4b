#!/usr/bin/env node
// literal.js: tokenizes PowerShell literals with the tree-sitter PowerShell grammar, for
// wire's fuzz test (internal/remote/wire/literal_fuzz_test.go), an independent check of how
// the literals wire renders are read.
//
// stdin: a JSON array of strings, each the source text of one literal. stdout: a JSON array,
// one object per input: {"ok": true, "type": T, "value": V} when the whole text is exactly one
// single-quoted string token (T is its node type, V the string it denotes: the text inside
// the outer quotes with each doubled single-quote character taken once), otherwise
// {"ok": false, "why": "..."} saying what the grammar made of it. One process reads a whole
// batch: starting Node and loading the grammar once is what takes the time.
'use strict';

const fs = require('node:fs');
const { Parser, Language } = require('web-tree-sitter');

// The characters PowerShell takes as a single quote: ' and U+2018 to U+201B.
const QUOTE = "['\u2018\u2019\u201a\u201b]";

// leaves returns the named nodes with no named children, and whether any node is an error.
function leaves(node, out) {
  if (node.isError || node.isMissing || node.type === 'ERROR') {
    out.error = true;
  }
  if (node.namedChildCount === 0) {
    out.nodes.push(node);
    return out;
  }
  for (let i = 0; i < node.namedChildCount; i++) {
    leaves(node.namedChild(i), out);
  }
  return out;
}

function classify(parser, text) {
  const tree = parser.parse(text);
  try {
    const found = leaves(tree.rootNode, { nodes: [], error: false });
    if (found.error || tree.rootNode.hasError) {
      return { ok: false, why: 'syntax error: ' + tree.rootNode.toString().slice(0, 200) };
    }
    if (found.nodes.length !== 1) {
      return { ok: false, why: `${found.nodes.length} tokens: ` + found.nodes.map((n) => n.type).join(' ') };
    }
    const leaf = found.nodes[0];
    const literal = leaf.type === 'verbatim_string_characters' ? leaf.parent : leaf;
    if (literal.type !== 'string_literal' || literal.startIndex !== 0 || literal.endIndex !== text.length) {
      return { ok: false, why: `one ${leaf.type} token from ${literal.startIndex} to ${literal.endIndex} of ${text.length}` };
    }
    // The token's text is the whole input (checked above): take off the outer quotes and
    // undouble every pair of quote characters.
    const inner = [...text].slice(1, -1).join('');
    const value = inner.replace(new RegExp(`(${QUOTE})(${QUOTE})`, 'g'), '$2');
    return { ok: true, type: leaf.type, value };
  } finally {
    tree.delete();
  }
}

async function main() {
  const inputs = JSON.parse(fs.readFileSync(0, 'utf8'));
  await Parser.init();
  const language = await Language.load(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'));
  const parser = new Parser();
  parser.setLanguage(language);
  process.stdout.write(JSON.stringify(inputs.map((text) => classify(parser, text))));
}

main().catch((err) => {
  process.stderr.write(`literal.js: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
