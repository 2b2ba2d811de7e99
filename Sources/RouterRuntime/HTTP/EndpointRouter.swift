/// An endpoint louter answers itself, in front of the gateway (`/readyz`, `/metrics`, `/dashboard`).
public protocol HTTPEndpoint: Sendable {
  /// Whether `request` is this endpoint's, from its method and path (decided without suspending).
  func claims(_ request: HTTPRequest) -> Bool
  /// Answers a request this endpoint claimed.
  func answer(_ request: HTTPRequest, responder: HTTPResponder) async
}

/// The handler `louter serve` runs: the first endpoint that claims a request answers it; every other request
/// goes to `inner` (the gateway), shown as in flight on `inFlight`'s dashboard while it runs.
///
/// One router rather than each endpoint wrapping the next: every wrapper was one more async frame and task
/// hop between the connection and the gateway, on every request (about 500 instructions each).
public struct EndpointRouter: HTTPHandler {
  let endpoints: [any HTTPEndpoint]
  let inner: any HTTPHandler
  let inFlight: Dashboard?

  /// Routes to `endpoints` (the first that claims a request answers it), else to `inner`, noting the request in
  /// `inFlight` while `inner` handles it.
  public init(endpoints: [any HTTPEndpoint], inner: any HTTPHandler, inFlight: Dashboard? = nil) {
    self.endpoints = endpoints
    self.inner = inner
    self.inFlight = inFlight
  }

  public func handle(_ request: HTTPRequest, responder: HTTPResponder) async {
    for endpoint in endpoints where endpoint.claims(request) {
      await endpoint.answer(request, responder: responder)
      return
    }
    guard let inFlight else {
      await inner.handle(request, responder: responder)
      return
    }
    let token = inFlight.begin(method: request.method, path: request.path)
    await inner.handle(request, responder: responder)
    inFlight.end(token)
  }
}
