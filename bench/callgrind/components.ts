/**
 * Which component a function belongs to, from its label (profile.ts): JS functions by the path of
 * their script, native ones by symbol. SHARED marks code every component calls (V8's builtins and
 * runtime, the interpreter, libc's memory functions): its instructions go to whoever called it.
 */
export const SHARED = '';

const VALIDATION = 'validation (ajv, Herald schema checks)';

/** npm packages → component, checked against `/node_modules/<package>/` in a script's path. */
const PACKAGES: Array<[RegExp, string]> = [
  [/^(@nestjs\/|rxjs|reflect-metadata|iterare|path-to-regexp|uid)/, 'Nest'],
  [
    /^(fastify|@fastify\/|find-my-way|avvio|light-my-request|fast-json-stringify|secure-json-parse|fast-querystring|fastq|process-warning|toad-cache|abstract-logging|fast-decode-uri-component|ret|safe-regex2|rfdc|json-schema-ref-resolver|content-type|proxy-addr|forwarded|ipaddr\.js|cookie|set-cookie-parser|semver|reusify)/,
    'Fastify',
  ],
  [
    /^(ajv|fast-deep-equal|fast-uri|json-schema-traverse|class-validator|validator|libphonenumber-js)/,
    VALIDATION,
  ],
  [/^(ioredis|redis-parser|redis-errors|denque|cluster-key-slot|standard-as-callback|lodash\.)/, 'ioredis'],
  [/^ws\//, 'ws'],
  [
    /^(socket\.io|engine\.io|@socket\.io\/|socket\.io-adapter|socket\.io-parser|base64id|notepack\.io|debug|ms)/,
    'Socket.IO',
  ],
  [/^(prom-client|tdigest|bintrees)/, 'metrics (prom-client)'],
  [
    /^(pino|sonic-boom|thread-stream|quick-format-unescaped|atomic-sleep|fast-redact|on-exit-leak-free|real-require|safe-stable-stringify)/,
    'logging (pino)',
  ],
  [/^(jsonwebtoken|jws|jwa|jose|ecdsa-sig-formatter|safe-buffer|buffer-equal-constant-time|lodash)/, 'JWT'],
];

/** Herald's own code, by its top directory under dist/. */
const HERALD_DIRS: Array<[RegExp, string]> = [
  [/^publish\//, 'Herald: publish (controller, service)'],
  [/^broker\//, 'Herald: broker (Redis engine, encoding)'],
  [/^(auth|rate-limit)\//, 'Herald: auth + rate-limit guards'],
  [/^(logging|metrics)\//, 'Herald: request logging + metrics hooks'],
  [/^(session|gateway|sse)\//, 'Herald: session + gateway (delivery)'],
  [/^(push|idempotency)\//, 'Herald: offline delivery + idempotency'],
  [/^common\//, 'Herald: common (errors, pipe, body parser)'],
];

const NODE_MODULES: Array<[RegExp, string]> = [
  [/^node:(net|stream|internal\/(streams|stream_base_commons|net|socketaddress))/, 'node: net + streams'],
  [/^node:(_http|http|internal\/http)/, 'node: http'],
  [
    /^node:(events|timers|internal\/(process\/task_queues|timers|async_hooks|process\/promises|event_target|linkedlist|priority_queue|fixed_queue))/,
    'node: events, timers, ticks',
  ],
  [/^node:(crypto|internal\/crypto)/, 'node: crypto'],
];

function jsComponent(label: string): string {
  // "JS:name /path/to/file.js:line", "JS:name node:internal/…:line"
  const file = /\s(\S*):\d+$/.exec(label)?.[1] ?? '';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+\/?)/.exec(file);
  if (pkg) {
    for (const [pattern, component] of PACKAGES) if (pattern.test(pkg[1])) return component;
    return `npm: ${pkg[1].replace(/\/$/, '')}`;
  }
  const bench = /\/bench\/dist\/(.*)$/.exec(file);
  if (bench)
    return /^(support|load)\//.test(bench[1]) ? 'bench support code' : "the system's own server code";
  const herald = /\/dist\/(.*)$/.exec(file);
  if (herald && /^publish\/publish-(body\.schema|notification\.dto)\.js$/.test(herald[1])) return VALIDATION;
  if (herald) {
    for (const [pattern, component] of HERALD_DIRS) if (pattern.test(herald[1])) return component;
    return 'Herald: other';
  }
  for (const [pattern, component] of NODE_MODULES) if (pattern.test(file)) return component;
  if (file.startsWith('node:')) return 'node: other JS';
  // ajv compiles each schema into a function of no file (validate10, …).
  if (file === '' && /^JS:validate\d+\s/.test(label)) return VALIDATION;
  return 'JS (other)';
}

const NATIVE: Array<[RegExp, string]> = [
  [/JsonParser|JsonStringifier|JsonStringify|JsonParse|Builtins_Json/, 'JSON.parse / JSON.stringify (V8)'],
  [
    /^(v8::internal::(Heap|Scavenger|ScavengerCollector|ScavengeJob|MarkCompactCollector|MinorMarkCompactCollector|ConcurrentMarking|IncrementalMarking|.*MarkingVisitor|Sweeper|GCTracer|MemoryAllocator|MemoryChunk|PagedSpace|NewSpace|SemiSpace|SemiSpaceNewSpace|LargeObjectSpace|ArrayBufferSweeper|LocalHeap|Evacuat|RememberedSet|SlotSet|MarkingBarrier|MarkingWorklist|ConcurrentAllocator|HeapObjectVisitor|ObjectStatsCollector|Scavenge|Worklist|ParallelWorkItem|MemoryReducer|CollectionBarrier|Safepoint|GlobalSafepoint|IsolateSafepoint|StackGuard|EphemeronHashTable|ObjectVisitor|MainAllocator|MarkingState|SharedHeap|ReadOnlyHeap|PretenuringHandler|AllocationObserver)|cppgc::|heap::base::|Builtins_RecordWrite|Builtins_EphemeronKeyBarrier)|v8::internal::\(anonymous namespace\)::.*(Scaveng|Marking|Evacuat|Sweep|Visitor)/,
    'GC (V8 heap)',
  ],
  [
    /^v8::internal::(compiler::|maglev::|baseline::|OptimizingCompileDispatcher|Turbofan|Compiler::|Parser|Scanner|PreParser|AstValueFactory|interpreter::Bytecode(Generator|ArrayBuilder|ArrayWriter)|Deoptimizer|TranslatedState|wasm::|Zone)/,
    'V8 compiler (JIT, parser, deopt)',
  ],
  [/RegExp|irregexp|Builtins_RegExp/, 'regexp'],
  [/^(llhttp|http_parser)/, 'node: http (llhttp)'],
  [/^(EVP_|SHA\d|RAND_|OPENSSL_|CRYPTO_|ossl_|BN_|HMAC|AES_|sha\d|aesni)/, 'crypto (OpenSSL)'],
  [/^uv_|^uv__/, 'libuv'],
  [/^(node::|simdutf::|ada::|nghttp2|cares|base64_)/, 'node C++ (bindings, streams, callbacks)'],
];

/** A libc syscall wrapper's syscall name, or undefined. */
export function syscallName(name: string, object: string): string | undefined {
  if (!/libc\.so/.test(object)) return undefined;
  const m =
    /^(?:__GI_)?(?:__libc_)?_*(writev|write|readv|read|recvmsg|recvfrom|recv|sendmsg|sendto|send|epoll_wait|epoll_pwait|epoll_ctl|accept4|futex|clock_gettime|getrandom|mprotect|madvise|mmap|munmap)(?:64)?(?:@.*)?$/.exec(
      name,
    );
  return m?.[1];
}

export function classify(label: string, object: string): string {
  if (label.startsWith('JS:')) return jsComponent(label);
  if (label.startsWith('Eval:')) return 'JS (other)';
  if (label.startsWith('RegExp:')) return 'regexp';
  if (syscallName(label, object)) return 'syscall wrappers (libc; kernel time not counted)';
  for (const [pattern, component] of NATIVE) if (pattern.test(label)) return component;
  // Builtins, bytecode handlers, V8's runtime and API, libc's memory functions, unnamed JIT code.
  return SHARED;
}
