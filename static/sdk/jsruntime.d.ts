// Type definitions of the JS Runtime Portal script SDK (README "Script SDK").
// Kept in step with runtime/sandbox/prelude.js by tests/runtime/test_sdk_types.py.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface HttpOptions {
  headers?: Record<string, string | number>;
  /** A string is sent as is; any other JSON value as JSON with content-type application/json. */
  body?: Json;
  /** Milliseconds; capped by JSR_HTTP_TIMEOUT_MS and what is left of the run's deadline. */
  timeout?: number;
}

interface HttpRequestOptions extends HttpOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS";
}

interface HttpResponse {
  /** The final URL, after redirects. */
  url: string;
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed when the content type is JSON, text otherwise. */
  body: Json;
}

/** Rejections of ctx.http, fetchV2 and the other host APIs. */
interface HostCallError extends Error {
  name: "HttpError" | "ValidationError" | "TypeError" | "TenantRequired" | "HostError" | string;
  status?: number;
}

interface HttpApi {
  get(url: string, options?: HttpOptions): Promise<HttpResponse>;
  post(url: string, options?: HttpOptions): Promise<HttpResponse>;
  put(url: string, options?: HttpOptions): Promise<HttpResponse>;
  patch(url: string, options?: HttpOptions): Promise<HttpResponse>;
  delete(url: string, options?: HttpOptions): Promise<HttpResponse>;
  request(url: string, options?: HttpRequestOptions): Promise<HttpResponse>;
}

type Comparable = string | number | boolean | null;
type FieldCondition = Comparable | {
  $eq?: Comparable; $ne?: Comparable; $gt?: Comparable; $gte?: Comparable; $lt?: Comparable; $lte?: Comparable;
  $in?: Comparable[];
};

interface QueryOptions {
  where?: Record<string, FieldCondition>;
  /** "field", "-field" (descending) or a list of up to 5. */
  orderBy?: string | string[];
  /** 0 to 1000, default 100. */
  limit?: number;
  offset?: number;
}

type StoredDocument = { _id: string; [field: string]: Json };

interface DbApi {
  query(collection: string, options?: QueryOptions): Promise<StoredDocument[]>;
  findById(collection: string, id: string): Promise<StoredDocument | null>;
  insert(collection: string, document: Record<string, Json>): Promise<StoredDocument>;
  /** Merges top-level fields; null when there is no such document. */
  update(collection: string, id: string, changes: Record<string, Json>): Promise<StoredDocument | null>;
  delete(collection: string, id: string): Promise<boolean>;
}

interface CacheApi {
  get(key: string): Promise<Json>;
  /** Any JSON value but null; ttlSeconds 1 to 30 days, default 3600. */
  set(key: string, value: Json, ttlSeconds?: number): Promise<true>;
  delete(key: string): Promise<boolean>;
}

interface PublishedEvent {
  id: string;
  type: string;
  /** One deeper than the event that started the run (0 for other runs); at most JSR_EVENT_MAX_DEPTH. */
  depth: number;
}

interface EventsApi {
  /** Publishes a domain event of the run's tenant to its event scripts; rejects with a ValidationError
   * for a bad type or payload, or past the chain depth limit. */
  publish(type: string, payload?: Json): Promise<PublishedEvent>;
}

interface SecretsApi {
  get(name: string): Promise<string | null>;
}

interface Logger {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/**
 * Host API calls (ctx.http/db/cache/events/secrets, fetch, fetchV2, crypto.subtle, geolocation) run
 * concurrently, and each promise settles as soon as its own call completes: Promise.race settles with the
 * fast call, timers fire and new calls start while others are outstanding. A run ends once its handler has
 * settled and every call it started has been answered (a call that was not awaited still completes).
 */
interface Context {
  readonly tenantId: string;
  readonly userId?: string | null;
  readonly organizationId?: string | null;
  readonly scriptId?: string;
  readonly executionId?: string;
  readonly trigger: { type: string; [key: string]: Json };
  readonly http: HttpApi;
  readonly db: DbApi;
  readonly cache: CacheApi;
  readonly events: EventsApi;
  readonly secrets: SecretsApi;
  readonly logger: Logger;
}

/** RudderStack's metadata keys, looked up by the event's messageId. */
interface EventMetadata {
  sourceId?: string; sourceName?: string; workspaceId?: string; sourceType?: string; sourceCategory?: string;
  destinationId?: string; destinationType?: string; destinationName?: string; namespace?: string;
  originalSourceId?: string; trackingPlanId?: string; trackingPlanVersion?: number; sourceTpConfig?: Json;
  mergedTpConfig?: Json; jobId?: number; sourceJobId?: string; sourceJobRunId?: string; sourceTaskRunId?: string;
  recordId?: Json; messageId?: string; messageIds?: string[]; rudderId?: string; receivedAt?: string;
  eventName?: string; eventType?: string; sourceDefinitionId?: string; destinationDefinitionId?: string;
  transformationId?: string; transformationVersionId?: string;
}

type RudderEvent = { messageId?: string; [key: string]: Json | undefined };
type MetadataFunction = (event: RudderEvent) => EventMetadata;

// -- handlers a script defines (function, const or let; or exported from an ES module) --
declare function main(input: Json, ctx: Context): unknown;
declare function handler(request: {
  method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body: Json; ip: string;
}, ctx: Context): unknown;
declare function onEvent(event: Json, ctx: Context): unknown;
declare function transformEvent(event: RudderEvent, metadata: MetadataFunction):
  RudderEvent | RudderEvent[] | null | undefined | Promise<RudderEvent | RudderEvent[] | null | undefined>;
declare function transformBatch(events: RudderEvent[], metadata: MetadataFunction):
  RudderEvent[] | Promise<RudderEvent[]>;

// -- globals ----------------------------------------------------------------------------
declare const console: Logger;
/** RudderStack's log(): a console line in plain runs; "Log: ..." lines returned in transformation test mode. */
declare function log(...args: unknown[]): void;
/** Resolves to the JSON body whatever the status; "ERROR" on any failure or a body that is not JSON. */
declare function fetch(url: string, options?: HttpRequestOptions): Promise<Json | "ERROR">;
/** Resolves for every status (body parsed when it is JSON); rejects on a network failure or a refused address. */
declare function fetchV2(url: string, options?: HttpRequestOptions): Promise<HttpResponse>;
/** The request's credentials, else the tenant's secrets; throws TypeError without a key. */
declare function getCredential(key: string | number | boolean | object): string | undefined;
declare function metadata(event: RudderEvent): EventMetadata;
/** The operator's GEOLOCATION_URL service (`GET /geoip/{ip}`); rejects clearly when it is not configured. */
declare function geolocation(ip: string): Promise<Json>;
/** UTF-8 only, as the WHATWG Encoding standard specifies it; lone surrogates become U+FFFD. */
declare class TextEncoder {
  readonly encoding: "utf-8";
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  /** Only "utf-8" (and its labels); others throw RangeError. */
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: "utf-8";
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(input?: ArrayBuffer | ArrayBufferView): string;
}
/** A deep copy of plain data (objects, arrays, Date, RegExp, Map, Set, buffers, errors; cycles kept). */
declare function structuredClone<T>(value: T): T;
/** WHATWG URL: absolute URLs, or relative ones against `base`; throws TypeError when it does not parse.
 * Non-ASCII hosts become Punycode (UTS #46 non-transitional: "Bücher.example" -> "xn--bcher-kva.example"). */
declare class URL {
  constructor(url: string | URL, base?: string | URL);
  static canParse(url: string | URL, base?: string | URL): boolean;
  static parse(url: string | URL, base?: string | URL): URL | null;
  href: string;
  readonly origin: string;
  readonly protocol: string;
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly hostname: string;
  readonly port: string;
  readonly pathname: string;
  search: string;
  readonly searchParams: URLSearchParams;
  hash: string;
  toString(): string;
  toJSON(): string;
}
/** application/x-www-form-urlencoded name/value pairs; a URL's searchParams write back to its query. */
declare class URLSearchParams implements Iterable<[string, string]> {
  constructor(init?: string | Iterable<[string, string]> | Record<string, string> | URLSearchParams);
  readonly size: number;
  append(name: string, value: string): void;
  delete(name: string, value?: string): void;
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string, value?: string): boolean;
  set(name: string, value: string): void;
  sort(): void;
  forEach(callback: (value: string, name: string, params: URLSearchParams) => void, thisArg?: unknown): void;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  entries(): IterableIterator<[string, string]>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
  toString(): string;
}
type HashName = "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";
type IntegerArray = Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array;
/** An HMAC key from crypto.subtle.importKey('raw', ...); its bytes stay out of reach unless extractable. */
declare class CryptoKey {
  readonly type: "secret";
  readonly extractable: boolean;
  readonly algorithm: { name: "HMAC"; hash: { name: HashName }; length: number };
  readonly usages: ("sign" | "verify")[];
}
/** Web Crypto: random values from a per-run seed of the host's OS entropy; digests and HMAC served by the host. */
declare const crypto: {
  /** Fills an integer typed array (at most 65536 bytes) in place and returns it. */
  getRandomValues<T extends IntegerArray>(array: T): T;
  /** A random version 4 UUID, e.g. "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed". */
  randomUUID(): string;
  readonly subtle: {
    digest(algorithm: HashName | { name: HashName }, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer>;
    importKey(format: "raw", keyData: ArrayBuffer | ArrayBufferView,
              algorithm: { name: "HMAC"; hash: HashName | { name: HashName }; length?: number },
              extractable: boolean, usages: ("sign" | "verify")[]): Promise<CryptoKey>;
    exportKey(format: "raw", key: CryptoKey): Promise<ArrayBuffer>;
    sign(algorithm: "HMAC" | { name: "HMAC" }, key: CryptoKey, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer>;
    verify(algorithm: "HMAC" | { name: "HMAC" }, key: CryptoKey, signature: ArrayBuffer | ArrayBufferView,
           data: ArrayBuffer | ArrayBufferView): Promise<boolean>;
  };
};
/**
 * Only Intl.DateTimeFormat, and only what dates need in any IANA time zone: en-US numeric dates and times
 * ("7/1/2026, 5:50:09 PM"). Offsets come from Python's zoneinfo for 1970-2100 (outside, those of the
 * nearest end). An unknown zone, or an option value not listed here (month names, dateStyle, ...),
 * throws RangeError. Date's toLocaleString/toLocaleDateString/toLocaleTimeString given locales or
 * options format through it. Loaded for code that names Intl (dayjs/plugin/timezone does).
 */
declare const Intl: {
  DateTimeFormat: {
    new (locales?: string | string[], options?: DateTimeFormatOptions): DateTimeFormat;
    (locales?: string | string[], options?: DateTimeFormatOptions): DateTimeFormat;
    /** The requested locales this runtime formats in: en and en-US. */
    supportedLocalesOf(locales?: string | string[]): string[];
  };
};
interface DateTimeFormatOptions {
  /** An IANA name (any case), "UTC" or an offset such as "+05:30"; default "UTC". */
  timeZone?: string;
  year?: "numeric" | "2-digit";
  month?: "numeric" | "2-digit";
  day?: "numeric" | "2-digit";
  hour?: "numeric" | "2-digit";
  minute?: "numeric" | "2-digit";
  second?: "numeric" | "2-digit";
  hour12?: boolean;
  hourCycle?: "h11" | "h12" | "h23" | "h24";
  /** "short": tzdata's abbreviation when it is a word ("EST", "BST"), else like "shortOffset" ("GMT+5:45"). */
  timeZoneName?: "short" | "shortOffset" | "longOffset";
}
interface DateTimeFormatPart {
  type: "year" | "month" | "day" | "hour" | "minute" | "second" | "dayPeriod" | "timeZoneName" | "literal";
  value: string;
}
interface DateTimeFormat {
  format(date?: Date | number): string;
  formatToParts(date?: Date | number): DateTimeFormatPart[];
  resolvedOptions(): DateTimeFormatOptions & { locale: "en-US"; calendar: "gregory"; numberingSystem: "latn";
                                               timeZone: string };
}
declare function setTimeout(callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]): number;
declare function clearTimeout(id: number): void;

// -- curated packages -------------------------------------------------------------------
declare module "lodash" {
  // The whole lodash 4 API, default and named exports (`import _, {groupBy} from 'lodash'`).
  const _: { VERSION: string; [name: string]: any };
  export default _;
  export const chunk: <T>(array: T[], size?: number) => T[][];
  export const groupBy: <T>(collection: T[], iteratee?: ((value: T) => unknown) | string) => Record<string, T[]>;
  export const sum: (array: number[]) => number;
}
declare module "dayjs" {
  interface Dayjs {
    format(template?: string): string;
    add(value: number, unit: string): Dayjs;
    subtract(value: number, unit: string): Dayjs;
    diff(other: Dayjs | string | number | Date, unit?: string, float?: boolean): number;
    day(): number;
    toISOString(): string;
    valueOf(): number;
    utc(): Dayjs;
    /** With dayjs/plugin/timezone: the same instant in `timeZone` (or, keepLocalTime, the same wall time). */
    tz(timeZone?: string, keepLocalTime?: boolean): Dayjs;
    /** With dayjs/plugin/timezone: as Intl.DateTimeFormat's timeZoneName ("EDT", "BST", "GMT+5:45"). */
    offsetName(type?: "short" | "shortOffset" | "longOffset"): string | undefined;
  }
  interface DayjsTimezone {
    /** A wall time in `timeZone` (dayjs.tz('2026-03-08 03:30', 'America/New_York')), or an instant shown there. */
    (date?: string | number | Date | Dayjs, timeZone?: string): Dayjs;
    (date: string, format: string, timeZone: string): Dayjs;
    /** "UTC": runs see UTC as their local time zone. */
    guess(): string;
    setDefault(timeZone?: string): void;
  }
  interface DayjsStatic {
    (date?: string | number | Date | Dayjs): Dayjs;
    utc(date?: string | number | Date | Dayjs): Dayjs;
    extend(plugin: unknown): DayjsStatic;
    /** With dayjs/plugin/timezone. */
    tz: DayjsTimezone;
  }
  const dayjs: DayjsStatic;
  export default dayjs;
}
declare module "dayjs/plugin/utc" {
  const utc: unknown;
  export default utc;
}
/** dayjs's timezone plugin, unchanged from npm (extend dayjs with utc first); it runs on the sandbox's Intl. */
declare module "dayjs/plugin/timezone" {
  const timezone: unknown;
  export default timezone;
}
