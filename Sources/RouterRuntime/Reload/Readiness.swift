public import RouteSpec
import Synchronization

/// What asked for a route reload.
public enum ReloadTrigger: String, Sendable {
  /// SIGHUP.
  case signal
  /// `serve --watch` saw the routes folder change.
  case watch
}

/// The outcome of the latest reload, as `/readyz` reports it.
public struct ReloadOutcome: Sendable, Equatable {
  /// True when the new table replaced the old one.
  public let succeeded: Bool
  /// Errors in the refused set (0 when it succeeded).
  public let errors: Int
  /// What asked for it.
  public let trigger: ReloadTrigger
  /// When it finished, in seconds since the Unix epoch.
  public let unixTime: Int64

  /// An outcome.
  public init(succeeded: Bool, errors: Int, trigger: ReloadTrigger, unixTime: Int64) {
    self.succeeded = succeeded
    self.errors = errors
    self.trigger = trigger
    self.unixTime = unixTime
  }

  /// `{"succeeded": …, "errors": …, "trigger": …, "time": …}`.
  var json: JSONValue {
    .object([
      "succeeded": .bool(succeeded), "errors": .int(Int64(errors)), "trigger": .string(trigger.rawValue),
      "time": .int(unixTime),
    ])
  }
}

/// The latest reload's outcome, shared by whoever reloads (the signal thread, the watcher) and `/readyz`.
public final class ReloadStatus: Sendable {
  private let latest = Mutex<ReloadOutcome?>(nil)

  /// No reload yet.
  public init() {}

  /// Records `outcome` as the latest.
  public func record(_ outcome: ReloadOutcome) { latest.withLock { $0 = outcome } }

  /// The latest reload's outcome; nil before the first reload.
  public var last: ReloadOutcome? { latest.withLock { $0 } }
}

/// Answers `GET /readyz` (see ``EndpointRouter``), with the latest reload's outcome.
///
/// Still 200 after a refused reload: the table that was serving goes on serving, so the replica is as ready as
/// it was; a 503 would take every replica out of a load balancer on a bad push of route files, which is what
/// refusing the broken set avoids. The failure is in the body (`last_reload.succeeded: false`) and in
/// `/metrics` (`louter_route_table_last_reload_success 0`), for alerts.
public struct ReadinessEndpoint: HTTPEndpoint {
  /// The path answered here.
  public static let path = "/readyz"

  let status: ReloadStatus
  let routeCount: @Sendable () -> Int

  /// Answers `/readyz` from `status` and the routes in force now (`routeCount`).
  public init(status: ReloadStatus, routeCount: @escaping @Sendable () -> Int) {
    self.status = status
    self.routeCount = routeCount
  }

  /// The `/readyz` body: `status`, `routes` in force, and `last_reload` once there has been one.
  public static func body(routes: Int, last: ReloadOutcome?) -> JSONValue {
    var members: [JSONMember] = [
      JSONMember("status", .string("ready")), JSONMember("routes", .int(Int64(routes))),
    ]
    if let last { members.append(JSONMember("last_reload", last.json)) }
    return .object(members)
  }

  /// `GET /readyz` only: another method on the path is the gateway's to refuse.
  public func claims(_ request: HTTPRequest) -> Bool {
    request.method == "GET" && request.path == Self.path
  }

  /// Answers `GET /readyz`.
  public func answer(_ request: HTTPRequest, responder: HTTPResponder) async {
    // A client gone before its answer needs nothing more.
    try? await responder.respond(
      status: 200,
      headers: [("content-type", "application/json; charset=UTF-8"), ("cache-control", "no-store")],
      body: Self.body(routes: routeCount(), last: status.last).serializedBytes())
  }
}
