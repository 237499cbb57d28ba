import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ScrubberCore

extension CatalogService {
    /// `POST /v1/<name>` for every operation of ``CatalogWire/operations``, behind the token
    /// (``TokenMiddleware``); any other name under `/v1/` is 404.
    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        let v1 = router.group("/v1").add(middleware: TokenMiddleware<Context>(authenticator: authenticator))
        for operation in CatalogWire.operations {
            addRoute(operation, to: v1)
        }
        v1.post(":operation") { _, context in
            Self.error(.notFound, .notFound, "no such operation: \(context.parameters.get("operation") ?? "")")
        }
    }

    private func addRoute<Operation: CatalogOperation, Context: RequestContext>(
        _ operation: Operation.Type,
        to group: RouterGroup<Context>
    ) {
        group.post(RouterPath(Operation.name)) { request, _ in
            await self.respond(to: request, operation)
        }
    }

    /// Answers one operation; never throws (every failure is an ``CatalogWire/ErrorBody``).
    func respond<Operation: CatalogOperation>(to request: Request, _ operation: Operation.Type) async -> Response {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            return Self.error(.contentTooLarge, .tooLarge, "request body of \(length) bytes is over the limit of \(maxBodyBytes)")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return Self.error(.contentTooLarge, .tooLarge, "request body is over the limit of \(maxBodyBytes) bytes")
        } catch {
            return Self.error(.badRequest, .badRequest, "cannot read the request body: \(error)")
        }
        let data = Data(body.readableBytesView)
        let id = request.headers[HTTPField.Name(CatalogWire.requestIDHeader)!]
        if let id, id.utf8.count > Self.maxRequestIDBytes {
            return Self.error(
                .badRequest,
                .badRequest,
                "\(CatalogWire.requestIDHeader) is \(id.utf8.count) bytes, over the limit of \(Self.maxRequestIDBytes)"
            )
        }
        guard Operation.isWrite, let id, !id.isEmpty else {
            return await perform(operation, data).response
        }
        let answer = await replays.answer(key: Operation.name + " " + id) { await self.perform(operation, data) }
        return answer.response
    }

    /// Decodes, runs and encodes one operation.
    func perform<Operation: CatalogOperation>(_ operation: Operation.Type, _ body: Data) async -> Answer {
        do {
            return .ok(try await Operation.perform(try Operation.decode(body), on: catalog))
        } catch let error as DecodingError {
            return Answer(
                status: .badRequest,
                body: Self.encode(
                    CatalogWire.ErrorBody(
                        kind: .badRequest,
                        message: "malformed \(Operation.name) request: \(Self.describe(error))"
                    )
                )
            )
        } catch let error as CatalogWire.InvalidRequest {
            return Answer(
                status: .badRequest,
                body: Self.encode(
                    CatalogWire.ErrorBody(
                        kind: .badRequest,
                        message: "invalid \(Operation.name) request: \(error.message)"
                    )
                )
            )
        } catch let error as CatalogError {
            // A lapsed membership is an answer the node acts on; an unavailable store is a retry.
            let status: HTTPResponse.Status = error.code == .unavailable ? .serviceUnavailable : .conflict
            return Answer(status: status, body: Self.encode(CatalogWire.ErrorBody(error)))
        } catch let refusal as RestoreRefusal {
            let body = CatalogWire.ErrorBody(kind: .restoreRefused, message: "\(refusal)", refusal: refusal)
            return Answer(status: .conflict, body: Self.encode(body))
        } catch {
            logger.error("\(Operation.name) failed: \(error)")
            return Answer(status: .internalServerError, body: Self.encode(CatalogWire.ErrorBody(kind: .serverError, message: "\(error)")))
        }
    }

    /// An encoded answer: what the replay cache keeps.
    struct Answer: Sendable {
        var status: HTTPResponse.Status
        var body: Data

        static func ok(_ value: some Encodable) -> Answer {
            Answer(status: .ok, body: CatalogService.encode(value))
        }

        var response: Response {
            Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    static func encode(_ value: some Encodable) -> Data {
        // Our own types always encode; a failure would be a bug worth a 500 with its message.
        (try? JSONEncoder().encode(value)) ?? Data(#"{"kind":"internal","message":"cannot encode the answer"}"#.utf8)
    }

    static func error(_ status: HTTPResponse.Status, _ kind: CatalogWire.ErrorBody.Kind, _ message: String) -> Response {
        Answer(status: status, body: encode(CatalogWire.ErrorBody(kind: kind, message: message))).response
    }

    /// What was wrong with a body, in the words an operator needs (path and problem).
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return keys.isEmpty ? "" : " at \(keys)"
        }
        switch error {
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo["NSDebugDescription"] as? String
            return "not valid JSON\(path(context))" + (underlying.map { ": \($0)" } ?? "")
        case .keyNotFound(let key, let context):
            return "missing field \(key.stringValue)\(path(context))"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "expected \(type)\(path(context))"
        @unknown default:
            return "\(error)"
        }
    }
}
