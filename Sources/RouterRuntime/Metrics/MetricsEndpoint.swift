public import RouteCompiler

/// Who may read `/metrics` and `/dashboard` (with its event stream).
///
/// With `[server] admin_keys`, only a caller presenting one of those keys (as a client presents its key). Without
/// them, anyone who can connect, but only while louter listens on a loopback address: there the callers are
/// this machine's own users; on any other address the metrics (route, backend and client names, traffic) would
/// be public, so they are off until admin keys are set.
public enum MetricsAccess: Sendable, Equatable {
  /// Serve the metrics.
  case allowed
  /// 401: admin keys are set and the caller presented none of them.
  case unauthorized
  /// 403: no admin keys, and louter listens on an address other machines can reach.
  case disabled

  /// Decides for a caller that presented `key` (nil: none), under `server`'s admin keys, on a loopback
  /// listener or not.
  public static func decide(key: String?, server: ServerSettings, loopback: Bool) -> MetricsAccess {
    if server.adminKeyHashes.isEmpty { return loopback ? .allowed : .disabled }
    guard let key, !key.isEmpty, server.isAdminKey(key) else { return .unauthorized }
    return .allowed
  }

  /// The answer for a request to an admin `path` that is not served: 405 for a method other than GET, else
  /// 401 or 403 as `access` says; nil when it is served.
  static func refusal(method: String, access: MetricsAccess, path: String) -> (
    status: Int, headers: [(String, String)], body: [UInt8]
  )? {
    var headers = [("content-type", "text/plain; charset=utf-8"), ("cache-control", "no-store")]
    let status: Int
    let body: String
    if method != "GET" {
      status = 405
      headers.append(("allow", "GET"))
      body = "louter: \(path) answers GET only\n"
    } else {
      switch access {
      case .allowed:
        return nil
      case .unauthorized:
        status = 401
        headers.append(("www-authenticate", "Bearer realm=\"louter admin\""))
        body =
          "louter: \(path) needs an admin key ([server] admin_keys), as Authorization: Bearer KEY or ?key=KEY\n"
      case .disabled:
        status = 403
        body = "louter: \(path) is off: louter listens beyond loopback and [server] admin_keys is not set\n"
      }
    }
    return (status, headers, Array(body.utf8))
  }

  /// True when `host` (a listen host) is reachable from this machine only: `localhost`, `::1` or 127.0.0.0/8.
  public static func isLoopback(host: String) -> Bool {
    if host == "localhost" || host == "::1" { return true }
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts[0] == "127"
      && parts.allSatisfy { part in
        !part.isEmpty && part.count <= 3 && part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
          && (Int(part) ?? 256) <= 255
      }
  }
}

/// Answers `/metrics` (see ``EndpointRouter``): any method on the path is claimed, so that another than
/// GET is refused here (405) rather than passed to the gateway.
public struct MetricsEndpoint: HTTPEndpoint {
  /// The path the metrics are served on.
  public static let path = "/metrics"

  let metrics: GatewayMetrics
  let loopback: Bool
  let server: @Sendable () -> ServerSettings

  /// Serves `metrics`; `loopback` says whether louter listens on a loopback address, and `server` gives the
  /// settings in force now (the admin keys change with a reload).
  public init(metrics: GatewayMetrics, loopback: Bool, server: @escaping @Sendable () -> ServerSettings) {
    self.metrics = metrics
    self.loopback = loopback
    self.server = server
  }

  public func claims(_ request: HTTPRequest) -> Bool { request.path == Self.path }

  /// Answers `/metrics`: the exposition, or the refusal `MetricsAccess` decides.
  public func answer(_ request: HTTPRequest, responder: HTTPResponder) async {
    let access = MetricsAccess.decide(key: Exchange.presentedKey(request), server: server(), loopback: loopback)
    if let refusal = MetricsAccess.refusal(method: request.method, access: access, path: Self.path) {
      try? await responder.respond(status: refusal.status, headers: refusal.headers, body: refusal.body)
      return
    }
    // A client gone before its answer needs nothing more.
    try? await responder.respond(
      status: 200, headers: [("content-type", PrometheusText.contentType), ("cache-control", "no-store")],
      body: Array(metrics.exposition().utf8))
  }
}
