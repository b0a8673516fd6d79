/**
 * A small XML well-formedness check for the tests (no xmllint here): every
 * tag closed in order, attributes quoted and unique, text and attribute
 * values free of a raw "<" and of "&" that starts no known entity.
 */

/** Throws an Error saying where @xml is not well-formed; returns its root's name. */
export function checkXml(xml: string): string {
  const stack: string[] = [];
  let root: string | undefined;
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at ${i}: ${why}: ${JSON.stringify(xml.slice(Math.max(0, i - 40), i + 40))}`);
  };
  const checkText = (s: string) => {
    if (s.includes('<')) fail('raw "<" in text');
    for (const m of s.matchAll(/&([^;]*);?/g)) if (!/^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);$/.test(m[0])) fail(`bad entity ${m[0]}`);
  };
  const NAME = /^[A-Za-z_:][\w.:-]*/;
  if (xml.startsWith('<?xml')) i = xml.indexOf('?>') + 2;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (stack.length === 0 && text.trim() !== '') fail('text outside the root');
    checkText(text);
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i);
      if (end < 0) fail('unclosed comment');
      i = end + 3;
      continue;
    }
    if (xml.startsWith('</', i)) {
      const m = NAME.exec(xml.slice(i + 2));
      if (!m) fail('bad end tag');
      const name = m![0];
      if (stack.pop() !== name) fail(`</${name}> closes nothing open`);
      i += 2 + name.length;
      while (/\s/.test(xml[i] ?? '')) i++;
      if (xml[i] !== '>') fail('bad end tag');
      i++;
      continue;
    }
    const m = NAME.exec(xml.slice(i + 1));
    if (!m) fail('bad tag name');
    const name = m![0];
    if (stack.length === 0) {
      if (root !== undefined) fail('a second root');
      root = name;
    }
    i += 1 + name.length;
    const seen = new Set<string>();
    for (;;) {
      while (/\s/.test(xml[i] ?? '')) i++;
      if (xml.startsWith('/>', i)) {
        i += 2;
        break;
      }
      if (xml[i] === '>') {
        stack.push(name);
        i++;
        break;
      }
      const a = NAME.exec(xml.slice(i));
      if (!a) fail('bad attribute');
      const an = a![0];
      if (seen.has(an)) fail(`attribute ${an} twice`);
      seen.add(an);
      i += an.length;
      if (xml[i] !== '=') fail(`attribute ${an} without a value`);
      const q = xml[i + 1];
      if (q !== '"' && q !== "'") fail(`attribute ${an} not quoted`);
      const end = xml.indexOf(q!, i + 2);
      if (end < 0) fail(`attribute ${an} not closed`);
      checkText(xml.slice(i + 2, end));
      i = end + 1;
    }
  }
  if (stack.length) fail(`<${stack.join('>, <')}> not closed`);
  if (root === undefined) fail('no root element');
  return root!;
}
