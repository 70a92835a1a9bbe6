import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface ReadmeSnippet {
  /** File name, from the README heading the snippet sits under (`quick-start.ts`, `in-the-browser.ts`, …). */
  readonly file: string;
  /** The fenced block's text, exactly as in the README. */
  readonly code: string;
}

/** Every fenced ```ts block of a Markdown text, named after the heading above it. */
export function readmeSnippets(markdown: string): ReadmeSnippet[] {
  const snippets: ReadmeSnippet[] = [];
  const taken = new Map<string, number>();
  let heading = 'readme';
  let block: string[] | null = null;
  for (const line of markdown.split('\n')) {
    if (block !== null) {
      if (line.startsWith('```')) {
        const count = (taken.get(heading) ?? 0) + 1;
        taken.set(heading, count);
        snippets.push({ file: `${heading}${count > 1 ? `-${count}` : ''}.ts`, code: block.join('\n') + '\n' });
        block = null;
      } else block.push(line);
    } else if (/^```ts\s*$/.test(line)) block = [];
    else if (/^#{1,6} /.test(line)) heading = slug(line.replace(/^#+ /, ''));
  }
  if (block !== null) throw new Error('README.md: a ```ts block is not closed');
  return snippets;
}

/** Writes the README's TypeScript snippets into `directory` (emptied first) and returns them. */
export function writeReadmeSnippets(readmePath: string, directory: string): ReadmeSnippet[] {
  const snippets = readmeSnippets(readFileSync(readmePath, 'utf8'));
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  for (const snippet of snippets) writeFileSync(path.join(directory, snippet.file), snippet.code);
  return snippets;
}

function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'readme';
}
