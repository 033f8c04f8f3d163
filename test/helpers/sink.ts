import { Writable } from "node:stream";

/** A stream a view writes to, keeping what it wrote; `tty` makes it look like a terminal. */
export function sink(tty = false): NodeJS.WriteStream & { text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(stream, { isTTY: tty, columns: 80, rows: 40, text: () => text });
  return stream;
}
