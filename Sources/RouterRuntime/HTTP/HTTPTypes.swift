/// Request headers: ordered name/value pairs, looked up case-insensitively. Kept as the bytes they came in
/// (``HeaderFieldBytes``): a name or value becomes a `String` when it is read.
public struct HTTPHeaders: Sendable, Sequence {
  private(set) var fields: HeaderFieldBytes

  /// The pairs as received (names as sent).
  public var pairs: [(name: String, value: String)] {
    (0..<fields.count).map { (fields.name(at: $0), fields.value(at: $0)) }
  }

  /// Creates headers from pairs.
  public init(_ pairs: [(name: String, value: String)] = []) {
    fields = HeaderFieldBytes()
    for pair in pairs { fields.append(name: pair.name, value: pair.value) }
  }

  /// Headers a parser read.
  init(fields: HeaderFieldBytes) { self.fields = fields }

  /// Appends one header.
  public mutating func append(name: String, value: String) { fields.append(name: name, value: value) }

  /// The first value of `name` (any case).
  public subscript(name: String) -> String? {
    fields.firstIndex(named: name).map(fields.value(at:))
  }

  /// Every value of `name` (any case).
  public func values(for name: String) -> [String] {
    fields.indices(named: name).map(fields.value(at:))
  }

  /// For each of `names` (lowercase) that is present, the name and its first value, in `names`' order: what a
  /// route table that matches on those headers needs to know of a request, without the other fields.
  public func firstValues(of names: [String]) -> [(name: String, value: String)] {
    names.compactMap { name in self[name].map { (name, $0) } }
  }

  public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { pairs.makeIterator() }
}

/// HTTP/1.0 or HTTP/1.1.
public enum HTTPVersion: Sendable, Equatable {
  case http10
  case http11
}

/// One complete request: head and whole body.
///
/// Its head is as parsed; a handler may only replace the body or end keep-alive.
///
/// A value with its fields behind one reference, copied on write (as swift-nio's `HTTPRequestHead` keeps its
/// own): a request passes from the parser through the connection's queue and its handler task to the exchange,
/// and each copy of eight separate fields cost about 230 instructions (a retain per field) and as many again to
/// destroy, seven times per request. A copy is now one retain.
public struct HTTPRequest: Sendable {
  /// The fields. Mutated only through `unique()`, so an instance that two requests share is never written.
  private final class Storage: @unchecked Sendable {
    let method: String
    let target: String
    let path: String
    let query: String?
    let version: HTTPVersion
    let headers: HTTPHeaders
    var body: [UInt8]
    var keepAlive: Bool

    init(
      method: String, target: String, path: String, query: String?, version: HTTPVersion, headers: HTTPHeaders,
      body: [UInt8], keepAlive: Bool
    ) {
      self.method = method
      self.target = target
      self.path = path
      self.query = query
      self.version = version
      self.headers = headers
      self.body = body
      self.keepAlive = keepAlive
    }

    func copy() -> Storage {
      Storage(
        method: method, target: target, path: path, query: query, version: version, headers: headers, body: body,
        keepAlive: keepAlive)
    }
  }

  private var storage: Storage

  /// The storage, copied first when another request shares it.
  private mutating func unique() -> Storage {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    return storage
  }

  /// `GET`, `POST`, ...
  public var method: String { storage.method }
  /// The request target as sent (`/v1beta/models/x:generateContent?alt=sse`).
  public var target: String { storage.target }
  /// The path part of the target.
  public var path: String { storage.path }
  /// The query part of the target, without `?`.
  public var query: String? { storage.query }
  /// Protocol version.
  public var version: HTTPVersion { storage.version }
  /// Headers.
  public var headers: HTTPHeaders { storage.headers }
  /// The body (de-chunked).
  public var body: [UInt8] {
    get { storage.body }
    set { unique().body = newValue }
  }
  /// Whether the connection stays open after the response.
  public var keepAlive: Bool {
    get { storage.keepAlive }
    set { unique().keepAlive = newValue }
  }

  /// Creates a request; `path` and `query` are split from `target`.
  public init(
    method: String, target: String, version: HTTPVersion = .http11, headers: HTTPHeaders = HTTPHeaders(),
    body: [UInt8] = [], keepAlive: Bool = true
  ) {
    let path: String
    let query: String?
    // In the string's own bytes: a Character search pays for grapheme breaking, and the `utf8` view's generic
    // search for its iterator, on every request's target.
    var bytes = target
    let question = bytes.withUTF8 { $0.firstIndex(of: UInt8(ascii: "?")) }
    if let question {
      let split = target.utf8.index(target.utf8.startIndex, offsetBy: question)
      path = String(target[..<split])
      query = String(target[target.utf8.index(after: split)...])
    } else {
      path = target
      query = nil
    }
    storage = Storage(
      method: method, target: target, path: path, query: query, version: version, headers: headers, body: body,
      keepAlive: keepAlive)
  }
}

/// Handles requests; the server calls it once per request, in its own task.
public protocol HTTPHandler: Sendable {
  /// Answers `request` through `responder`.
  func handle(_ request: HTTPRequest, responder: HTTPResponder) async
}

/// Limits and timeouts of the HTTP server.
public struct HTTPServerConfiguration: Sendable {
  /// Address to listen on.
  public var host: String
  /// Port; 0 picks a free one.
  public var port: Int
  /// Largest request line plus headers: above it, 431.
  public var maxHeadBytes: Int
  /// Most header lines: above it, 431.
  public var maxHeaders: Int
  /// Largest request body: above it, 413.
  public var maxBodyBytes: Int
  /// Time to receive a whole request head, from its first byte: then 408. A new connection also has this
  /// long to send that first byte (else it is closed quietly). Bytes trickling in never extend it.
  public var headTimeout: Duration
  /// Time to receive a whole body, from the end of its head: then 408. Bytes trickling in never extend it.
  public var bodyTimeout: Duration
  /// Idle time on a kept-alive connection, from the end of the last response, before it is closed; also how
  /// long a client has to read a final answer (an error, or one sent with `connection: close`).
  public var idleTimeout: Duration
  /// Most open connections; more are refused at accept.
  public var maxConnections: Int
  /// Unsent response bytes above which `write` waits (backpressure).
  public var writeHighWater: Int
  /// Event loops (reactors), each on its own thread with its own connections and upstream pool.
  public var workers: Int
  /// Whether an idle loop polls for events before it sleeps (see ``PollWindow``).
  public var idlePoll: Bool

  /// Creates a configuration with defaults for everything but the address.
  public init(
    host: String = "127.0.0.1", port: Int = 8080, maxHeadBytes: Int = 64 * 1024, maxHeaders: Int = 100,
    maxBodyBytes: Int = 20 * 1024 * 1024, headTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(60),
    idleTimeout: Duration = .seconds(60), maxConnections: Int = 100_000, writeHighWater: Int = 256 * 1024,
    workers: Int = Posix.processorCount, idlePoll: Bool = false
  ) {
    self.host = host
    self.port = port
    self.maxHeadBytes = maxHeadBytes
    self.maxHeaders = maxHeaders
    self.maxBodyBytes = maxBodyBytes
    self.headTimeout = headTimeout
    self.bodyTimeout = bodyTimeout
    self.idleTimeout = idleTimeout
    self.maxConnections = maxConnections
    self.writeHighWater = writeHighWater
    self.workers = workers
    self.idlePoll = idlePoll
  }
}

/// Reason phrases for the statuses louter sends.
enum HTTPStatus {
  static func reason(_ code: Int) -> String {
    switch code {
    case 100: "Continue"
    case 200: "OK"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 408: "Request Timeout"
    case 409: "Conflict"
    case 413: "Content Too Large"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 499: "Client Closed Request"
    case 500: "Internal Server Error"
    case 501: "Not Implemented"
    case 502: "Bad Gateway"
    case 503: "Service Unavailable"
    case 504: "Gateway Timeout"
    case 505: "HTTP Version Not Supported"
    default: "Status \(code)"
    }
  }
}
