// Checks Kubernetes manifests against the API's schemas, as kubernetes-models publishes them:
// its validate() for types, enums and required fields, and, because validate() lets unknown
// fields through (a misspelled `backofLimitPerIndex` would be silently dropped by the API
// server), a strict walk of every object against the same schemas' TypeScript declarations,
// read with the TypeScript compiler.
import path from "node:path";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

const ROOT = path.resolve(import.meta.dirname, "../../..");

export interface Manifest {
  file: string;
  /** 0-based position among the file's YAML documents. */
  document: number;
  object: Record<string, unknown>;
}

/**
 * The objects of a YAML file, parsed like kubectl (YAML 1.1: `0440` is octal). Syntax errors and
 * duplicate keys are problems, not silently resolved.
 */
export function parseManifests(
  file: string,
  text: string,
): { manifests: Manifest[]; problems: string[] } {
  const manifests: Manifest[] = [];
  const problems: string[] = [];
  parseAllDocuments(text, { version: "1.1", uniqueKeys: true }).forEach((doc, document) => {
    if (!("errors" in doc)) {
      problems.push(`${file}: not a YAML stream`);
      return;
    }
    for (const error of doc.errors) problems.push(`${file} document ${document}: ${error.message}`);
    const object: unknown = doc.toJS();
    if (object === null || object === undefined) return;
    if (typeof object !== "object" || Array.isArray(object)) {
      problems.push(`${file} document ${document}: not an object`);
      return;
    }
    manifests.push({ file, document, object: object as Record<string, unknown> });
  });
  return { manifests, problems };
}

function kindOf(manifest: Manifest): { apiVersion: string; kind: string } | string {
  const { apiVersion, kind } = manifest.object;
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^\w+$/.test(kind)) {
    return "apiVersion and kind must be strings";
  }
  return { apiVersion, kind };
}

const where = (m: Manifest) => `${m.file} document ${m.document}`;

type Model = new (data: unknown) => { validate(): void };

async function modelOf(apiVersion: string, kind: string): Promise<Model | undefined> {
  try {
    const module = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<
      string,
      unknown
    >;
    return typeof module[kind] === "function" ? (module[kind] as Model) : undefined;
  } catch {
    return undefined;
  }
}

interface KindTypes {
  checker: ts.TypeChecker;
  typeOf: (apiVersion: string, kind: string) => ts.Type | undefined;
}

/** Compiling the declarations takes seconds: once per set of kinds. */
const programs = new Map<string, KindTypes>();

function kindTypes(kinds: { apiVersion: string; kind: string }[]): KindTypes {
  const unique = [...new Map(kinds.map((k) => [`${k.apiVersion}/${k.kind}`, k])).values()].sort(
    (a, b) => `${a.apiVersion}/${a.kind}`.localeCompare(`${b.apiVersion}/${b.kind}`),
  );
  const key = unique.map((k) => `${k.apiVersion}/${k.kind}`).join(" ");
  const cached = programs.get(key) ?? compileKinds(unique);
  programs.set(key, cached);
  return cached;
}

/** A program whose only own file names the declared type of each kind. */
function compileKinds(unique: { apiVersion: string; kind: string }[]): KindTypes {
  const entry = path.join(ROOT, "__kubernetes_kinds__.ts");
  const source = [
    ...unique.map(
      (k, i) =>
        `import type { I${k.kind} as T${i} } from "kubernetes-models/${k.apiVersion}/${k.kind}";`,
    ),
    "export interface Kinds {",
    ...unique.map((k, i) => `  ${JSON.stringify(`${k.apiVersion}/${k.kind}`)}: T${i};`),
    "}",
  ].join("\n");
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, language, ...rest) =>
    file === entry
      ? ts.createSourceFile(file, source, language)
      : getSourceFile(file, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === entry || fileExists(file);
  const program = ts.createProgram([entry], options, host);
  const diagnostics = ts.getPreEmitDiagnostics(program, program.getSourceFile(entry));
  if (diagnostics.length > 0) {
    throw new Error(ts.formatDiagnostics(diagnostics, host));
  }
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(entry);
  const symbol = file && checker.getSymbolAtLocation(file);
  const kindsSymbol = symbol && checker.getExportsOfModule(symbol).find((s) => s.name === "Kinds");
  const kindsType = kindsSymbol && checker.getDeclaredTypeOfSymbol(kindsSymbol);
  return {
    checker,
    typeOf: (apiVersion, kind) => {
      const property = kindsType && checker.getPropertyOfType(kindsType, `${apiVersion}/${kind}`);
      return property && checker.getTypeOfSymbol(property);
    },
  };
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(
        above + 1,
        (row[j - 1] ?? 0) + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** Every field of `value` that the declared type does not have, with the nearest known name. */
function unknownFields(
  checker: ts.TypeChecker,
  value: unknown,
  declared: ts.Type,
  at: string,
): string[] {
  if (value === null || typeof value !== "object") return [];
  const type = checker.getNonNullableType(declared);
  const members = (type.isUnion() ? type.types : [type]).filter(
    (t) => (t.flags & ts.TypeFlags.Object) !== 0,
  );
  if (members.length === 0) return []; // any, unknown, or a primitive: validate() judges it
  if (Array.isArray(value)) {
    const array = members.find((t) => checker.isArrayType(t)) as ts.TypeReference | undefined;
    const element = array && checker.getTypeArguments(array)[0];
    return element
      ? value.flatMap((item, i) => unknownFields(checker, item, element, `${at}[${i}]`))
      : [];
  }
  return Object.entries(value).flatMap(([key, child]) => {
    const field = at === "" ? key : `${at}.${key}`;
    for (const member of members) {
      const property = checker.getPropertyOfType(member, key);
      if (property) return unknownFields(checker, child, checker.getTypeOfSymbol(property), field);
      const index = checker.getIndexInfoOfType(member, ts.IndexKind.String);
      if (index) return unknownFields(checker, child, index.type, field);
    }
    const known = members.flatMap((m) => checker.getPropertiesOfType(m).map((p) => p.name));
    const nearest = known.sort((a, b) => distance(key, a) - distance(key, b))[0];
    return [`${field}: unknown field${nearest ? ` (did you mean ${nearest}?)` : ""}`];
  });
}

/** Every problem of these files' manifests; none means kubectl would take them as written. */
export async function checkManifests(files: { file: string; text: string }[]): Promise<string[]> {
  const problems: string[] = [];
  const manifests: (Manifest & { apiVersion: string; kind: string })[] = [];
  for (const { file, text } of files) {
    const parsed = parseManifests(file, text);
    problems.push(...parsed.problems);
    for (const manifest of parsed.manifests) {
      const kind = kindOf(manifest);
      if (typeof kind === "string") problems.push(`${where(manifest)}: ${kind}`);
      else manifests.push({ ...manifest, ...kind });
    }
  }
  const known: typeof manifests = [];
  for (const m of manifests) {
    const model = await modelOf(m.apiVersion, m.kind);
    if (!model) {
      problems.push(`${where(m)}: kubernetes-models has no ${m.kind} in ${m.apiVersion}`);
      continue;
    }
    known.push(m);
    try {
      new model(m.object).validate();
    } catch (error) {
      problems.push(`${where(m)}: ${(error as Error).message}`);
    }
  }
  if (known.length === 0) return problems;
  const { checker, typeOf } = kindTypes(known);
  for (const m of known) {
    const type = typeOf(m.apiVersion, m.kind);
    if (!type) {
      problems.push(`${where(m)}: no declared type for ${m.apiVersion} ${m.kind}`);
      continue;
    }
    problems.push(...unknownFields(checker, m.object, type, "").map((p) => `${where(m)}: ${p}`));
  }
  return problems;
}
