// ps2.js: the PowerShell 2.0 rules of pscheck, on a tree-sitter parse tree. The provider's
// scripts run on Windows PowerShell 2.0 (Windows Server 2003 SP2 and 2008), where a PS3+
// cmdlet or operator fails only on the server, mid-apply. Each rule reports
// {node, message}; check.js prints them like syntax errors.
//
// 1. Commands: a command must be a PowerShell 2.0 cmdlet (data/ps2-cmdlets.txt), an Exchange
//    2007 cmdlet we load (data/exchange2007-cmdlets.txt), one of PowerShell 2.0's default
//    aliases below, a function defined in the scripts checked, or a program named with its
//    extension or a path (cluster.exe, & $exe). Anything else may be a PS3+ cmdlet.
// 2. Syntax of PowerShell 3.0 and later: -in and -notin, -shl and -shr, [ordered] and
//    [pscustomobject], ::new(), .ForEach() and .Where(), $PSItem, $using:, class and enum,
//    and $PSScriptRoot (PowerShell 2.0 sets it in modules only). Member enumeration
//    ((Get-Service).Name) cannot be told from a property of one object without types, so it
//    is not checked.
// 3. Variables read before they are assigned, in a whole script (--whole: what wire renders,
//    the parameter block, the prelude and the body). The rule, pragmatic and documented
//    here: at script level a variable must be assigned earlier in the text
//    (by =, +=, ..., foreach, [ref] or a param block; -OutVariable, -ErrorVariable and
//    Set-Variable are not followed, so a script must not rely on them); in a function a variable must be assigned earlier in the function, be
//    one of its parameters, or be assigned anywhere at script level (a function runs when
//    called, after the script level before the call); script blocks share the enclosing
//    scope. $Param_* (set by the parameter block), automatic and preference variables, and
//    scope- or drive-qualified names other than $script: ($env:X) count as assigned.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

function readList(file) {
  return fs.readFileSync(path.join(__dirname, 'data', file), 'utf8').split(/\r?\n/)
    .map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.toLowerCase());
}

const CMDLETS = new Set([...readList('ps2-cmdlets.txt'), ...readList('exchange2007-cmdlets.txt')]);

// The default aliases of PowerShell 2.0 (Get-Alias on a fresh 2.0 session), the ones a script
// may reasonably use; the rest are refused to keep the scripts readable.
const ALIASES = new Set(['%', '?', 'foreach', 'where', 'select', 'sort', 'group', 'measure', 'echo', 'write',
  'gci', 'dir', 'ls', 'gc', 'cat', 'gi', 'gp', 'ni', 'ri', 'rm', 'del', 'cp', 'copy', 'mv', 'move', 'ren',
  'sleep', 'gwmi', 'gsv', 'sasv', 'spsv', 'gps', 'ps', 'kill', 'cd', 'sl', 'pwd', 'gl', 'iex', 'ft', 'fl', 'tee']);

// The automatic and preference variables of PowerShell 2.0 (about_Automatic_Variables and
// about_Preference_Variables, PowerShell 2.0), lower case, without $.
const AUTOMATIC = new Set(['$', '?', '^', '_', 'args', 'consolefilename', 'error', 'event', 'eventargs',
  'eventsubscriber', 'executioncontext', 'false', 'foreach', 'home', 'host', 'input', 'lastexitcode', 'matches',
  'myinvocation', 'nestedpromptlevel', 'null', 'pid', 'profile', 'psboundparameters', 'pscmdlet', 'psculture',
  'psdebugcontext', 'pshome', 'psuiculture', 'psversiontable', 'pwd', 'sender', 'shellid', 'sourceargs',
  'sourceeventargs', 'stacktrace', 'switch', 'this', 'true',
  'confirmpreference', 'debugpreference', 'erroractionpreference', 'errorview', 'formatenumerationlimit',
  'maximumaliascount', 'maximumdrivecount', 'maximumerrorcount', 'maximumfunctioncount', 'maximumhistorycount',
  'maximumvariablecount', 'ofs', 'outputencoding', 'progresspreference', 'psemailserver',
  'pssessionapplicationname', 'pssessionconfigurationname', 'pssessionoption', 'verbosepreference',
  'warningpreference', 'whatifpreference']);

function walk(node, visit) {
  if (visit(node) === false) {
    return;
  }
  for (let i = 0; i < node.namedChildCount; i++) {
    walk(node.namedChild(i), visit);
  }
}

// functionsOf returns the lower-case names of the functions a tree defines.
function functionsOf(tree) {
  const names = [];
  walk(tree.rootNode, (n) => {
    if (n.type === 'function_statement') {
      const name = n.namedChildren.find((c) => c.type === 'function_name');
      if (name) {
        names.push(name.text.toLowerCase());
      }
    }
  });
  return names;
}

function commandProblems(tree, functions, report) {
  walk(tree.rootNode, (n) => {
    if (n.type !== 'command') {
      return;
    }
    if (n.namedChildren.some((c) => c.type === 'command_invokation_operator')) {
      const name = n.childForFieldName('command_name');
      // & name.exe, & $var, & { } are programs or script blocks; & Name is a command.
      if (!name || name.type !== 'command_name_expr' || name.namedChildCount === 0 ||
          name.namedChild(0).type !== 'command_name') {
        return;
      }
    }
    const nameNode = n.childForFieldName('command_name');
    if (!nameNode) {
      return;
    }
    const name = nameNode.text;
    const lower = name.toLowerCase();
    if (CMDLETS.has(lower) || ALIASES.has(lower) || functions.has(lower) || /[.\\/]/.test(name)) {
      return;
    }
    report(nameNode, `'${name}' is not a PowerShell 2.0 cmdlet, an Exchange 2007 cmdlet we load, ` +
      'a default alias or a function of our scripts (PowerShell 3.0 or later, or a typo?)');
  });
}

const PS3_OPERATORS = new Set(['-in', '-notin', '-cin', '-cnotin', '-iin', '-inotin', '-shl', '-shr']);
const PS3_TYPES = new Set(['ordered', 'pscustomobject']);

function syntaxProblems(tree, report) {
  walk(tree.rootNode, (n) => {
    const text = n.text;
    switch (n.type) {
      case 'comparison_operator':
        if (PS3_OPERATORS.has(text.toLowerCase())) {
          report(n, `operator ${text} is PowerShell 3.0 (use -contains / -notcontains with the operands swapped)`);
        }
        break;
      case 'type_name':
        if (PS3_TYPES.has(text.toLowerCase())) {
          report(n, `[${text}] is PowerShell 3.0 (build the object with New-Object and Add-Member, or a hashtable)`);
        }
        break;
      case 'invokation_expression': {
        const member = n.namedChildren.find((c) => c.type === 'member_name');
        const m = member ? member.text.toLowerCase() : '';
        if (m === 'new' && n.namedChild(0) && n.namedChild(0).type === 'type_literal' && text.includes('::')) {
          report(member, '::new() is PowerShell 5.0 (use New-Object)');
        } else if (m === 'foreach' || m === 'where') {
          report(member, `.${member.text}() is PowerShell 4.0 (use ForEach-Object / Where-Object)`);
        }
        break;
      }
      case 'variable': {
        const v = text.toLowerCase();
        if (v === '$psitem') {
          report(n, '$PSItem is PowerShell 3.0 (use $_)');
        } else if (v.startsWith('$using:')) {
          report(n, '$using: is PowerShell 3.0');
        } else if (v === '$psscriptroot') {
          report(n, '$PSScriptRoot is set only in modules on PowerShell 2.0');
        }
        break;
      }
      case 'class_statement':
      case 'enum_statement':
        report(n, `${n.type === 'class_statement' ? 'class' : 'enum'} is PowerShell 5.0`);
        return false;
      default:
    }
    return true;
  });
  // .ForEach( and .Where( the grammar cannot parse (it reads foreach as the keyword) show as a
  // syntax error; name the cause too.
  const source = tree.rootNode.text;
  const re = /\.(ForEach|Where)\s*\(/gi;
  let m;
  while ((m = re.exec(source)) !== null) {
    const node = tree.rootNode.descendantForIndex(m.index + 1);
    if (node.type !== 'comment' && (!node.parent || node.parent.type !== 'member_name')) {
      report(node, `.${m[1]}() is PowerShell 4.0 (use ForEach-Object / Where-Object)`);
    }
  }
}

// varName returns the variable a variable node names, lower case without $ and braces and
// without a script:/local:/private:/global: scope, or null when it is drive-qualified
// ($env:X, $function:F) and so not a variable of the script.
function varName(node) {
  let t = node.text.replace(/^\$/, '').replace(/^\{(.*)\}$/s, '$1').toLowerCase();
  const scoped = /^(script|local|private|global):(.+)$/.exec(t);
  if (scoped) {
    t = scoped[2];
  } else if (t.includes(':')) {
    return null;
  }
  return t;
}

// assignedVariables returns the variable nodes a node assigns: the plain variables on the
// left of an assignment ($a = , $a, $b = , [int]$a = ), foreach's variable, parameters and
// [ref]$x arguments. $a[0] = and $a.B = read $a.
function assignedVariables(n) {
  switch (n.type) {
    case 'assignment_expression': {
      const left = n.namedChild(0);
      const out = [];
      walk(left, (c) => {
        if (c.type === 'element_access' || c.type === 'member_access') {
          return false;
        }
        if (c.type === 'variable') {
          out.push(c);
        }
        return true;
      });
      return out;
    }
    case 'foreach_statement':
      return n.namedChildren.filter((c) => c.type === 'variable').slice(0, 1);
    case 'script_parameter':
      return n.namedChildren.filter((c) => c.type === 'variable').slice(0, 1);
    case 'cast_expression': {
      const type = n.namedChildren.find((c) => c.type === 'type_literal');
      if (type && type.text.toLowerCase() === '[ref]') {
        const v = n.namedChildren.find((c) => c.type === 'unary_expression');
        return v && v.namedChild(0) && v.namedChild(0).type === 'variable' ? [v.namedChild(0)] : [];
      }
      return [];
    }
    default:
      return [];
  }
}

function isKnown(name) {
  return AUTOMATIC.has(name) || name.startsWith('param_');
}

function variableProblems(tree, report) {
  // Pass 1: what the script level assigns anywhere (what a function may read), including
  // $script:x = inside a function.
  const scriptLevel = new Set();
  const collect = (n, inFunction) => {
    for (const v of assignedVariables(n)) {
      const name = varName(v);
      if (name !== null && (!inFunction || /^\$\{?script:/i.test(v.text))) {
        scriptLevel.add(name);
      }
    }
    for (let i = 0; i < n.namedChildCount; i++) {
      collect(n.namedChild(i), inFunction || n.type === 'function_statement');
    }
  };
  collect(tree.rootNode, false);

  // Pass 2: in document order, each scope's assignments so far. An assignment counts from the
  // end of its statement's left side: in $a = $a + 1 the right side reads $a first, so the
  // value is visited before the variable is recorded.
  const visit = (n, scope, inFunction) => {
    if (n.type === 'function_statement') {
      const inner = new Set();
      for (let i = 0; i < n.namedChildCount; i++) {
        visit(n.namedChild(i), inner, true);
      }
      return;
    }
    const assigned = assignedVariables(n);
    const assignedIds = new Set(assigned.map((a) => a.id));
    if (n.type === 'assignment_expression') {
      for (let i = 1; i < n.namedChildCount; i++) {
        visit(n.namedChild(i), scope, inFunction);
      }
      // The left side: indexes and members read their variable.
      walk(n.namedChild(0), (c) => {
        if (c.type === 'variable' && !assignedIds.has(c.id)) {
          check(c, scope, inFunction);
        }
        return true;
      });
      for (const v of assigned) {
        const name = varName(v);
        if (name !== null) {
          scope.add(name);
        }
      }
      return;
    }
    for (const v of assigned) {
      const name = varName(v);
      if (name !== null) {
        scope.add(name);
      }
    }
    if (n.type === 'variable' && !assignedIds.has(n.id)) {
      check(n, scope, inFunction);
      return;
    }
    for (let i = 0; i < n.namedChildCount; i++) {
      const c = n.namedChild(i);
      if (!assignedIds.has(c.id)) {
        visit(c, scope, inFunction);
      }
    }
  };
  const check = (v, scope, inFunction) => {
    const name = varName(v);
    // $PSItem and $PSScriptRoot are reported by the syntax rule already.
    if (name === null || isKnown(name) || name === 'psitem' || name === 'psscriptroot' || scope.has(name) ||
        (inFunction && scriptLevel.has(name))) {
      return;
    }
    report(v, `variable ${v.text} is read before it is assigned` +
      (inFunction ? ' (in this function, or anywhere at script level)' : ''));
  };
  visit(tree.rootNode, new Set(), false);
}

// problems returns every PowerShell 2.0 problem of a tree. functions are the lower-case
// names of every function the checked scripts define; whole says the tree is a whole script.
function problems(tree, functions, whole) {
  const found = [];
  const report = (node, message) => found.push({ node, message });
  commandProblems(tree, functions, report);
  syntaxProblems(tree, report);
  if (whole) {
    variableProblems(tree, report);
  }
  found.sort((a, b) => a.node.startIndex - b.node.startIndex);
  return found;
}

module.exports = { problems, functionsOf };
