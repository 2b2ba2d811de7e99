import Foundation
import Synchronization

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// The upstream transport on URLSession (FoundationNetworking): TLS, connection reuse, streaming.
public final class URLSessionTransport: UpstreamTransport, @unchecked Sendable {
  // URLSession and its delegate are thread-safe; the unchecked conformance covers the session reference.
  private let session: URLSession
  private let delegate: Delegate

  /// Creates a transport with its own session.
  public init() {
    let configuration = URLSessionConfiguration.ephemeral
    configuration.httpMaximumConnectionsPerHost = 512
    configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
    configuration.urlCache = nil
    configuration.httpCookieStorage = nil
    configuration.httpShouldSetCookies = false
    let delegate = Delegate()
    self.delegate = delegate
    self.session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
  }

  public func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
    guard let url = URL(string: request.url) else { throw .invalidResponse("invalid url '\(request.url)'") }
    var urlRequest = URLRequest(url: url)
    urlRequest.httpMethod = request.method
    for header in request.headers { urlRequest.addValue(header.value, forHTTPHeaderField: header.name) }
    if !request.body.isEmpty { urlRequest.httpBody = Data(request.body) }
    let total = request.totalTimeout.components
    urlRequest.timeoutInterval = max(1, Double(total.seconds) + Double(total.attoseconds) / 1e18)
    let task = session.dataTask(with: urlRequest)
    let exchange = Exchange(idleTimeout: request.streamIdleTimeout, task: task)
    delegate.register(task.taskIdentifier, exchange)
    task.resume()
    let deadline = ContinuousClock.now.advanced(by: request.firstByteTimeout)
    let limit = request.firstByteTimeout
    let head = await withTaskGroup(of: Result<UpstreamResponseHead, UpstreamError>?.self) { group in
      group.addTask { await exchange.waitForHead() }
      group.addTask {
        try? await Task.sleep(until: deadline, clock: .continuous)
        return Task.isCancelled ? nil : .failure(.timedOut("no response within \(limit)"))
      }
      var outcome: Result<UpstreamResponseHead, UpstreamError> = .failure(.cancelled)
      while let next = await group.next() {
        guard let next else { continue }
        outcome = next
        break
      }
      group.cancelAll()
      return outcome
    }
    switch head {
    case .success(let head):
      return UpstreamResponse(head: head, body: exchange.body)
    case .failure(let error):
      task.cancel()
      delegate.unregister(task.taskIdentifier)
      throw error
    }
  }

  /// One data task's state: the head continuation and the body.
  final class Exchange: Sendable {
    let body: UpstreamBody
    private let head = HeadLatch()

    init(idleTimeout: Duration, task: URLSessionDataTask) {
      let box = TaskBox(task)
      body = UpstreamBody(
        idleTimeout: idleTimeout,
        flowControl: { pause in pause ? box.task.suspend() : box.task.resume() },
        onCancel: { box.task.cancel() })
    }

    func resolveHead(_ value: Result<UpstreamResponseHead, UpstreamError>) { head.resolve(value) }

    func waitForHead() async -> Result<UpstreamResponseHead, UpstreamError> { await head.wait() }
  }

  /// URLSessionTask is thread-safe but not marked Sendable on Linux.
  final class TaskBox: @unchecked Sendable {
    let task: URLSessionDataTask
    init(_ task: URLSessionDataTask) { self.task = task }
  }

  /// Routes URLSession callbacks to the exchange of each task.
  final class Delegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let exchanges = Mutex<[Int: Exchange]>([:])

    func register(_ id: Int, _ exchange: Exchange) { exchanges.withLock { $0[id] = exchange } }
    func unregister(_ id: Int) { _ = exchanges.withLock { $0.removeValue(forKey: id) } }
    private func exchange(_ id: Int) -> Exchange? { exchanges.withLock { $0[id] } }

    func urlSession(
      _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
      completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
      guard let http = response as? HTTPURLResponse else {
        exchange(dataTask.taskIdentifier)?.resolveHead(.failure(.invalidResponse("not an HTTP response")))
        completionHandler(.cancel)
        return
      }
      var pairs: [(String, String)] = []
      for (name, value) in http.allHeaderFields {
        pairs.append((String(describing: name), String(describing: value)))
      }
      exchange(dataTask.taskIdentifier)?.resolveHead(
        .success(UpstreamResponseHead(status: http.statusCode, headers: UpstreamHeaders(pairs))))
      completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
      exchange(dataTask.taskIdentifier)?.body.push([UInt8](data))
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
      guard let exchange = exchanges.withLock({ $0.removeValue(forKey: task.taskIdentifier) }) else { return }
      guard let error else {
        exchange.resolveHead(.failure(.invalidResponse("the connection closed before a response")))
        exchange.body.finish(nil)
        return
      }
      let mapped = Self.map(error)
      exchange.resolveHead(.failure(mapped))
      exchange.body.finish(mapped)
    }

    static func map(_ error: any Error) -> UpstreamError {
      guard let urlError = error as? URLError else { return .connectionReset(String(describing: error)) }
      switch urlError.code {
      case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet, .secureConnectionFailed:
        return .connectFailed(urlError.localizedDescription)
      case .timedOut: return .timedOut(urlError.localizedDescription)
      case .cancelled: return .cancelled
      default: return .connectionReset(urlError.localizedDescription)
      }
    }
  }
}
