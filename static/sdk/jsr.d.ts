// Type definitions of the script SDK (ARCHITECTURE.md §3) for the editor's IntelliSense.
interface JsrHttpResponse { status: number; headers: Record<string, string>; body: any; }
interface JsrHttpOptions { headers?: Record<string, string>; body?: any; timeout?: number; }
interface JsrHttp {
  get(url: string, options?: JsrHttpOptions): Promise<JsrHttpResponse>;
  post(url: string, options?: JsrHttpOptions): Promise<JsrHttpResponse>;
  put(url: string, options?: JsrHttpOptions): Promise<JsrHttpResponse>;
  patch(url: string, options?: JsrHttpOptions): Promise<JsrHttpResponse>;
  delete(url: string, options?: JsrHttpOptions): Promise<JsrHttpResponse>;
}
interface JsrQuery { where?: Record<string, any>; limit?: number; offset?: number; orderBy?: string; }
interface JsrDb {
  /** Documents of a tenant-scoped collection. */
  query(collection: string, query?: JsrQuery): Promise<any[]>;
  findById(collection: string, id: string): Promise<any | null>;
  insert(collection: string, document: object): Promise<any>;
  update(collection: string, id: string, changes: object): Promise<any>;
  delete(collection: string, id: string): Promise<boolean>;
}
interface JsrCache {
  get(key: string): Promise<any>;
  set(key: string, value: any, ttlSeconds?: number): Promise<void>;
  delete(key: string): Promise<void>;
}
interface JsrLogger { log(...args: any[]): void; info(...args: any[]): void; warn(...args: any[]): void; error(...args: any[]): void; }
interface JsrTrigger { type: "schedule" | "http" | "event" | "manual" | "api" | "embedded" | "test"; scheduledAt?: string; attempt?: number; }
/** The frozen context every handler receives. */
interface JsrContext {
  readonly tenantId: string;
  readonly userId: string | null;
  readonly organizationId: string | null;
  readonly scriptId: string | null;
  readonly executionId: string | null;
  readonly trigger: JsrTrigger;
  readonly http: JsrHttp;
  readonly db: JsrDb;
  readonly cache: JsrCache;
  readonly events: { publish(type: string, payload: any): Promise<void>; };
  readonly secrets: { get(name: string): Promise<string | null>; };
  readonly logger: JsrLogger;
}
/** The request an HTTP-trigger script's handler(request, ctx) receives. */
interface JsrRequest { method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body: any; ip: string; }
/** What handler(request, ctx) returns. */
interface JsrResponse { status?: number; headers?: Record<string, string>; body?: any; }
/** RudderStack fetch: parsed JSON or 'ERROR'. */
declare function fetch(url: string, options?: object): Promise<any>;
/** RudderStack fetchV2: rejects on error. */
declare function fetchV2(url: string, options?: object): Promise<{ status: number; body: any; headers: Record<string, string> }>;
/** A credential injected before the run (synchronous). */
declare function getCredential(name: string): string | undefined;
/** Transformation mode: the metadata of an event. */
declare function metadata(event: any): Record<string, any>;
declare const console: JsrLogger;
