#!/usr/bin/env node
// pscheck: parses every PowerShell file named on the command line with the tree-sitter
// PowerShell grammar and reports each syntax error as
//
//   file:line:col: syntax error near '...'
//
// then one summary line "pscheck: N files parsed, M errors". Exit status: 0 when every file
// parses cleanly, 1 when any file has an error (or cannot be read), 2 on bad usage.
//
// The grammar is loaded from the WebAssembly build that the npm package
// tree-sitter-powershell ships (tree-sitter-powershell.wasm) through web-tree-sitter, so
// nothing is compiled and nothing is downloaded after `npm ci`: the check runs offline on any
// OS and CPU that runs Node.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { Parser, Language } = require('web-tree-sitter');
const ps2 = require('./ps2.js');

// snippet returns the text at a node, on one line and short, for the error message. A
// MISSING node (and an error at the end of input) is empty: show what follows it instead.
function snippet(source, node) {
  let text = source.slice(node.startIndex, node.endIndex);
  if (text.trim() === '') {
    text = source.slice(node.startIndex).replace(/^\s+/, '');
    if (text === '') {
      return '<end of file>';
    }
  }
  text = text.split(/\r?\n/)[0].slice(0, 40);
  return text.replace(/'/g, "\\'");
}

// errorsOf walks the whole tree and returns every ERROR and MISSING node in document order,
// nested ones included (an outer ERROR often spans a whole block; the inner ones point at
// the line that broke it).
function errorsOf(tree) {
  const found = [];
  const cursor = tree.walk();
  for (;;) {
    const node = cursor.currentNode;
    if (node.isError || node.type === 'ERROR' || node.isMissing) {
      found.push(node);
    }
    if (cursor.gotoFirstChild()) {
      continue;
    }
    while (!cursor.gotoNextSibling()) {
      if (!cursor.gotoParent()) {
        cursor.delete();
        return found;
      }
    }
  }
}

async function main(argv) {
  // --whole: the files after it are whole scripts (what wire renders), whose variables are
  // checked too (ps2.js, rule 3).
  const files = [];
  let whole = false;
  for (const a of argv) {
    if (a === '--whole') {
      whole = true;
    } else if (a !== '--') {
      files.push({ file: a, whole });
    }
  }
  if (files.length === 0) {
    process.stderr.write('usage: node check.js FILE.ps1... [--whole FILE.ps1...]\n');
    return 2;
  }

  await Parser.init();
  const wasm = require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm');
  const language = await Language.load(wasm);
  const parser = new Parser();
  parser.setLanguage(language);

  let errors = 0;
  const parsed = [];
  for (const f of files) {
    try {
      f.source = fs.readFileSync(f.file, 'utf8');
    } catch (err) {
      process.stdout.write(`${f.file}:0:0: cannot read: ${err.message}\n`);
      errors++;
      continue;
    }
    f.tree = parser.parse(f.source);
    parsed.push(f);
  }
  // A function defined in any checked script may be called from any other: the prelude's
  // functions are called by every operation.
  const functions = new Set(parsed.flatMap((f) => ps2.functionsOf(f.tree)));
  const where = (f, node) => `${path.normalize(f.file)}:${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
  for (const f of parsed) {
    const bad = errorsOf(f.tree);
    if (bad.length === 0 && f.tree.rootNode.hasError) {
      // Should not happen, but never let an error slip through unreported.
      bad.push(f.tree.rootNode);
    }
    for (const node of bad) {
      const what = node.isMissing ? `syntax error near '${snippet(f.source, node)}' (missing ${node.type})`
        : `syntax error near '${snippet(f.source, node)}'`;
      process.stdout.write(`${where(f, node)}: ${what}\n`);
      errors++;
    }
    for (const p of ps2.problems(f.tree, functions, f.whole)) {
      process.stdout.write(`${where(f, p.node)}: PowerShell 2.0: ${p.message}\n`);
      errors++;
    }
    f.tree.delete();
  }
  process.stdout.write(`pscheck: ${parsed.length} files parsed, ${errors} errors\n`);
  return errors === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`pscheck: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
