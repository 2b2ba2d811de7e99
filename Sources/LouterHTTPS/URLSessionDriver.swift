import CLouterSystem
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

// libLouterHTTPS.so: URLSession behind the C interface in CLouterSystem.h. The louter binary loads it
// with dlopen at the first https request (`URLSessionTransport` in RouterRuntime), so that a gateway
// whose https backends are never called carries no Foundation, libcurl or TLS library. Everything that
// is louter's rule (deadlines, buffering, what an error means to the fallback chain) stays on the
// louter side; this library only drives URLSession and reports what it saw.

/// The interface version this library was built against.
@_cdecl("louter_https_abi")
public func louterHTTPSABI() -> Int { Int(CLOUTER_HTTPS_ABI) }

/// Starts an exchange; see `clouter_https_start_fn`.
@_cdecl("louter_https_start")
public func louterHTTPSStart(
  method: UnsafePointer<CChar>?, url: UnsafePointer<CChar>?, names: UnsafePointer<UnsafePointer<CChar>?>?,
  values: UnsafePointer<UnsafePointer<CChar>?>?, count: Int, body: UnsafePointer<UInt8>?, bodyLength: Int,
  timeoutSeconds: Int, context: UnsafeMutableRawPointer?, events: UnsafePointer<clouter_https_events>?
) -> Int {
  guard let method, let url, let events else { return 0 }
  var headers: [(String, String)] = []
  if let names, let values {
    for index in 0..<max(0, count) {
      guard let name = names[index], let value = values[index] else { continue }
      headers.append((String(cString: name), String(cString: value)))
    }
  }
  let payload = body.map { Data(bytes: $0, count: max(0, bodyLength)) } ?? Data()
  return URLSessionDriver.shared.start(
    method: String(cString: method), url: String(cString: url), headers: headers, body: payload,
    timeoutSeconds: timeoutSeconds, reporter: Reporter(context: context, events: events.pointee))
}

/// Stops an exchange; see `clouter_https_cancel_fn`.
@_cdecl("louter_https_cancel")
public func louterHTTPSCancel(_ exchange: Int) { URLSessionDriver.shared.cancel(exchange) }

// The compiler checks the exported functions against the interface's declarations.
private let checkedStart: clouter_https_start_fn = louterHTTPSStart
private let checkedCancel: clouter_https_cancel_fn = louterHTTPSCancel
private let checkedABI: clouter_https_abi_fn = louterHTTPSABI

/// One exchange's way back to louter: the caller's context and callbacks.
struct Reporter: @unchecked Sendable {
  // The context is louter's, used only through these callbacks, which louter made safe from any thread.
  let context: UnsafeMutableRawPointer?
  let events: clouter_https_events

  func head(status: Int, headers: [(String, String)]) {
    // C strings alive for the call: louter copies what it keeps.
    let names = headers.map { UnsafePointer(strdup($0.0)) }
    let values = headers.map { UnsafePointer(strdup($0.1)) }
    defer { for string in names + values { free(UnsafeMutablePointer(mutating: string)) } }
    events.head?(context, status, names, values, headers.count)
  }

  func data(_ bytes: Data) {
    bytes.withUnsafeBytes { buffer in
      events.data?(context, buffer.bindMemory(to: UInt8.self).baseAddress, buffer.count)
    }
  }

  func end(_ kind: Int32, _ detail: String) { detail.withCString { events.end?(context, kind, $0) } }
}

/// The one URLSession of the process and its delegate: routes each task's callbacks to its reporter.
final class URLSessionDriver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
  // URLSession is thread-safe; `exchanges` is behind its mutex; `session` is set once in init.
  static let shared = URLSessionDriver()

  /// One started task: where its events go, and what redirects may stay within.
  struct Running {
    let task: URLSessionDataTask
    let reporter: Reporter
    let origin: Origin
    /// Set when the library itself ended the task: reported in place of URLSession's "cancelled".
    var failure: (kind: Int32, detail: String)?
  }

  private let exchanges = Mutex<[Int: Running]>([:])
  private var session: URLSession?

  override init() {
    super.init()
    let configuration = URLSessionConfiguration.ephemeral
    configuration.httpMaximumConnectionsPerHost = 512
    configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
    configuration.urlCache = nil
    configuration.httpCookieStorage = nil
    configuration.httpShouldSetCookies = false
    configuration.urlCredentialStorage = nil
    session = URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
  }

  func start(
    method: String, url: String, headers: [(String, String)], body: Data, timeoutSeconds: Int, reporter: Reporter
  ) -> Int {
    guard let session, let url = URL(string: url), let scheme = url.scheme?.lowercased(),
      scheme == "http" || scheme == "https", url.host != nil
    else { return 0 }
    var request = URLRequest(url: url)
    request.httpMethod = method
    for (name, value) in headers { request.addValue(value, forHTTPHeaderField: name) }
    if !body.isEmpty { request.httpBody = body }
    request.timeoutInterval = Double(max(1, timeoutSeconds))
    let task = session.dataTask(with: request)
    // The exchange's id is the task's identifier plus one: never 0, which means "not started".
    guard task.taskIdentifier >= 0, task.taskIdentifier < Int.max else { return 0 }
    exchanges.withLock { $0[task.taskIdentifier] = Running(task: task, reporter: reporter, origin: Origin(url)) }
    task.resume()
    return task.taskIdentifier + 1
  }

  func cancel(_ id: Int) {
    guard id > 0, let running = exchanges.withLock({ $0[id - 1] }) else { return }
    running.task.cancel()
  }

  private func running(_ task: URLSessionTask) -> Running? { exchanges.withLock { $0[task.taskIdentifier] } }

  func urlSession(
    _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
  ) {
    guard let http = response as? HTTPURLResponse else {
      exchanges.withLock {
        $0[dataTask.taskIdentifier]?.failure = (CLOUTER_HTTPS_INVALID_RESPONSE, "not an HTTP response")
      }
      completionHandler(.cancel)
      dataTask.cancel()
      return
    }
    let headers = http.allHeaderFields.map { (String(describing: $0.key), String(describing: $0.value)) }
    running(dataTask)?.reporter.head(status: http.statusCode, headers: headers)
    completionHandler(.allow)
  }

  func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
    running(dataTask)?.reporter.data(data)
  }

  // A redirect to another origin would carry the backend's credentials elsewhere: the 3xx answer is
  // handed back as it is. Within the same origin the redirect is followed.
  func urlSession(
    _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
  ) {
    guard let running = running(task), let target = request.url, Origin(target) == running.origin else {
      completionHandler(nil)
      return
    }
    completionHandler(request)
  }

  func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
    guard let running = exchanges.withLock({ $0.removeValue(forKey: task.taskIdentifier) }) else { return }
    if let failure = running.failure {
      running.reporter.end(failure.kind, failure.detail)
    } else if let error {
      let (kind, detail) = Self.classify(error)
      running.reporter.end(kind, detail)
    } else {
      running.reporter.end(CLOUTER_HTTPS_FINISHED, "")
    }
  }

  /// URLSession's errors as the interface's kinds, with URLSession's own words.
  static func classify(_ error: any Error) -> (Int32, String) {
    guard let urlError = error as? URLError else { return (CLOUTER_HTTPS_CONNECTION_RESET, String(describing: error)) }
    let detail = "\(urlError.localizedDescription) (URLError \(urlError.code.rawValue))"
    switch urlError.code {
    case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet, .secureConnectionFailed,
      .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid,
      .serverCertificateHasUnknownRoot, .clientCertificateRejected, .clientCertificateRequired,
      .cannotLoadFromNetwork, .unsupportedURL, .badURL:
      return (CLOUTER_HTTPS_CONNECT_FAILED, detail)
    case .timedOut: return (CLOUTER_HTTPS_TIMED_OUT, detail)
    case .cancelled, .userCancelledAuthentication: return (CLOUTER_HTTPS_CANCELLED, detail)
    case .badServerResponse, .cannotParseResponse, .cannotDecodeRawData, .cannotDecodeContentData,
      .httpTooManyRedirects, .redirectToNonExistentLocation, .zeroByteResource:
      return (CLOUTER_HTTPS_INVALID_RESPONSE, detail)
    case .dataLengthExceedsMaximum: return (CLOUTER_HTTPS_TOO_LARGE, detail)
    default: return (CLOUTER_HTTPS_CONNECTION_RESET, detail)
    }
  }
}

/// Scheme, host and port: redirects are followed only when all three stay the same.
struct Origin: Equatable {
  let scheme: String
  let host: String
  let port: Int?

  init(_ url: URL) {
    scheme = url.scheme?.lowercased() ?? ""
    host = url.host?.lowercased() ?? ""
    port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : nil)
  }
}
