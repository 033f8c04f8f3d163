import { createServer, type AddressInfo, type Server } from "node:net";

/** Starts `server` on 127.0.0.1 (`port`, or any free one); its port, or the listen error. */
export async function listenOnLoopback(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return (server.address() as AddressInfo).port;
}

/** A port nobody listens on right now on 127.0.0.1 (tests run in parallel: never a fixed one). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The stand-in's ports: which service, the variable that sets it, its default. */
export const PORT_VARIABLES = [
  ["oauth", "STANDIN_OAUTH_PORT", 11180],
  ["front", "STANDIN_IMAP_PORT", 13001],
  ["source", "STANDIN_SOURCE_PORT", 13002],
  ["destination", "STANDIN_DEST_PORT", 13003],
  ["graph", "STANDIN_GRAPH_PORT", 13004],
] as const;

/** Each port variable of the stand-in set to a free port (scripts/standin-start.sh, compose). */
export async function freePortVariables(): Promise<Record<string, string>> {
  const entries = await Promise.all(
    PORT_VARIABLES.map(async ([, name]) => [name, String(await freePort())] as const),
  );
  return Object.fromEntries(entries);
}
