/**
 * Splits options the way a POSIX shell splits words, without expansions: blanks separate words,
 * '...' is literal, "..." allows \" \\ \$ \`, and a backslash outside quotes escapes the next
 * character. `''` stays an empty word (imapsync's `--logdir ''` needs it).
 */
export function splitWords(text: string): { words: string[] } | { problem: string } {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) return { problem: "a single quote (') is not closed" };
      word = (word ?? "") + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      word ??= "";
      for (i++; text.charAt(i) !== '"'; i++) {
        if (i >= text.length) return { problem: 'a double quote (") is not closed' };
        const escaped =
          text.charAt(i) === "\\" && i + 1 < text.length && '"\\$`'.includes(text.charAt(i + 1));
        if (escaped) i++;
        word += text.charAt(i);
      }
    } else if (c === "\\" && i + 1 < text.length) {
      word = (word ?? "") + text.charAt(++i);
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  return { words };
}
