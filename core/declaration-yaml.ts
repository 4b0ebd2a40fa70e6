/**
 * The one way a declaration file (model.yaml) is read. A declaration is data an operator copies
 * around, so nothing in it may make the reader do more than read: the YAML 1.2 core schema and no
 * other tags (an unknown tag such as `!!js/function` or `!include` is refused rather than read as a
 * string), no `<<` merge keys, unique keys, and at most MAX_DECLARATION_ALIASES alias expansions
 * (the `yaml` package's own guard against a billion-laughs document, set here on purpose).
 */
import { parseDocument } from 'yaml';

/** Aliases (`*name`) a declaration may expand; the `yaml` package refuses a document above it. */
export const MAX_DECLARATION_ALIASES = 100;
/** Largest declaration file read: real ones are a few KiB. */
export const MAX_DECLARATION_BYTES = 1024 * 1024;

/** The document's value; throws an Error whose message says what is wrong and where. */
export function parseDeclarationYaml(text: string): unknown {
  if (text.length > MAX_DECLARATION_BYTES) {
    throw new Error(`the file has ${text.length} characters, more than a declaration may have (${MAX_DECLARATION_BYTES})`);
  }
  const doc = parseDocument(text, { schema: 'core', customTags: [], merge: false, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new Error(doc.errors[0].message);
  const unresolved = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (unresolved) throw new Error(`${unresolved.message.split('\n')[0].replace(/:$/, '')}; declarations are plain YAML, no custom tags`);
  try {
    return doc.toJS({ maxAliasCount: MAX_DECLARATION_ALIASES });
  } catch (err) {
    // The package's words ("excessive alias count") name no limit: say which one.
    throw new Error(`aliases expand beyond the limit of ${MAX_DECLARATION_ALIASES} (a billion-laughs document?): ${(err as Error).message}`);
  }
}
