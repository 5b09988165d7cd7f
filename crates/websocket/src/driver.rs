use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use granian_serve::{BoundedWrites, Phase, ShutdownWatch, TunnelLease};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use yawc::close::CloseCode;
use yawc::{Frame, OpCode, Role, WebSocket, WebSocketError};

use crate::message::{CLOSE_ABNORMAL, CLOSE_NO_STATUS, CLOSE_NORMAL};
use crate::{Command, Message, PerMessageDeflate, Utf8Bytes, WebsocketLimits};

/// RFC 6455 §7.4.1: the endpoint is going away (the server drains).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_UNSUPPORTED_DATA: u16 = 1003;
const CLOSE_INVALID_DATA: u16 = 1007;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_INTERNAL_ERROR: u16 = 1011;
/// RFC 6455 §5.5.1: a close frame's body is at most 125 bytes, 2 of them the code.
const MAX_REASON: usize = 123;

/// Where the messages of one websocket go: the interface's side of the connection.
pub trait Inbox: Send + Sync + 'static {
    /// A message arrived. The connection reads no further until the returned future
    /// completes, so an application that falls behind pushes back on its client.
    fn message(&self, message: Message) -> impl Future<Output = ()> + Send;

    /// The connection is over: the peer's close code and reason, the server's own when it
    /// closed first, or 1006 when the connection ended without a closing handshake. Called once,
    /// after the last message.
    fn closed(&self, code: u16, reason: &str);
}

/// An accepted websocket whose handshake response is on its way to the client.
#[derive(Debug)]
pub struct Pending {
    on_upgrade: OnUpgrade,
    shutdown: Option<ShutdownWatch>,
    /// Released once the connection is over, so the protocol layer may end its stream.
    lease: Option<TunnelLease>,
    limits: WebsocketLimits,
    deflate: Option<PerMessageDeflate>,
}

impl Pending {
    pub(crate) fn new(
        on_upgrade: OnUpgrade,
        shutdown: Option<ShutdownWatch>,
        lease: Option<TunnelLease>,
        limits: WebsocketLimits,
        deflate: Option<PerMessageDeflate>,
    ) -> Self {
        Self {
            on_upgrade,
            shutdown,
            lease,
            limits,
            deflate,
        }
    }

    /// Whether the handshake answer agreed on permessage-deflate.
    #[must_use]
    pub fn deflate(&self) -> Option<&PerMessageDeflate> {
        self.deflate.as_ref()
    }

    /// Once the protocol layer has handed the connection over, run it: `commands` to the
    /// client, messages from it to `inbox`, until either side closes or the peer is lost. A
    /// dropped `commands` sender closes the connection normally (1000).
    pub async fn run<I: Inbox>(self, commands: mpsc::Receiver<Command>, inbox: Arc<I>) {
        let (code, reason) = match self.on_upgrade.await {
            Ok(upgraded) => match open(TokioIo::new(upgraded), &self.limits, self.deflate.as_ref()) {
                Ok(stream) => drive(stream, commands, &*inbox, &self.limits, self.shutdown).await,
                Err(_) => (CLOSE_ABNORMAL, String::new()),
            },
            // The client left before the handshake response went out.
            Err(_) => (CLOSE_ABNORMAL, String::new()),
        };
        drop(self.lease);
        inbox.closed(code, &reason);
    }
}

/// The server end of a websocket over `io`, compressing as `deflate` agreed. Each write waits
/// for the peer at most the send timeout: a peer that stops reading ends the connection instead
/// of holding the writer (and with it the pings and the application's sends) for ever.
fn open<S>(
    io: S,
    limits: &WebsocketLimits,
    deflate: Option<&PerMessageDeflate>,
) -> Result<Connection<BoundedWrites<S>>, WebSocketError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let answer = deflate.map(ToString::to_string);
    let options = limits.options(deflate.is_some());
    let io = BoundedWrites::new(io, limits.send_timeout);
    WebSocket::from_stream_with_extensions(io, Role::Server, answer.as_deref(), options).map(Connection)
}

/// A yawc websocket as a stream that reports why reading ended (yawc's own `Stream` ends
/// without saying), so that it splits into halves the reader and the writer each own.
pub(crate) struct Connection<S>(WebSocket<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Connection<S> {
    type Item = Result<Frame, WebSocketError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().0.poll_next_frame(cx).map(Some)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Frame> for Connection<S> {
    type Error = WebSocketError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().0).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, frame: Frame) -> Result<(), Self::Error> {
        Pin::new(&mut self.get_mut().0).start_send(frame)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}

/// When the peer was last heard from, whether reading is paused on the application (which
/// must not count as the peer being silent), and whether the server's close frame is out.
struct Activity {
    origin: Instant,
    last_seen: AtomicU64,
    paused: AtomicBool,
    closing: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            last_seen: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        }
    }

    fn seen(&self) {
        let elapsed = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_seen.store(elapsed, Ordering::Relaxed);
    }

    fn last_seen(&self) -> Instant {
        self.origin + Duration::from_micros(self.last_seen.load(Ordering::Relaxed))
    }
}

/// How reading ended.
enum ReadEnd {
    /// The peer closed (its code and reason), or the connection ended (1006).
    Closed(u16, String),
    /// The peer broke a rule: the connection closes with this code.
    Violation { code: u16, queued: Queued },
}

/// Whether yawc queued the close frame that fails the connection.
#[derive(Clone, Copy)]
enum Queued {
    /// It did, and sends it on the next read.
    Yes,
    /// yawc's checks in the codec queue one, those in its reassembly do not, and both report
    /// some errors alike.
    Maybe,
    /// The driver's own check: the driver sends the close frame.
    No,
}

/// How writing ended.
enum WriteEnd {
    /// A close frame with this code and reason went out.
    Closing(u16, String),
    /// Nothing arrived from the peer in time after a ping.
    Idle,
    /// The peer took nothing of a write for the send timeout.
    Stalled,
    /// The connection failed.
    Broken,
}

impl WriteEnd {
    /// How a failed write ends writing.
    fn failed(error: &WebSocketError) -> Self {
        match error {
            WebSocketError::IoError(error) if error.kind() == std::io::ErrorKind::TimedOut => Self::Stalled,
            _ => Self::Broken,
        }
    }
}

enum End {
    Read(ReadEnd),
    Write(WriteEnd),
}

type Reader<S> = SplitStream<Connection<S>>;
type Writer<S> = SplitSink<Connection<S>, Frame>;

fn close_frame(code: u16, reason: &str) -> Frame {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Frame::close(CloseCode::from(code), &reason[..end])
}

/// The close code a read error fails the connection with, as yawc sends it (the frame yawc
/// queues for a broken rule carries the same code), and whether it queued one. `None` for a
/// lost connection.
fn violation(error: &WebSocketError) -> Option<(u16, Queued)> {
    match error {
        // A continuation out of place (reassembly) or an unmasked frame (codec).
        WebSocketError::InvalidFragment => Some((CLOSE_PROTOCOL_ERROR, Queued::Maybe)),
        // Reassembled messages over the limit are caught when their last frame is decoded.
        WebSocketError::FrameTooLarge => Some((CLOSE_TOO_BIG, Queued::Yes)),
        WebSocketError::InvalidUTF8 => Some((CLOSE_INVALID_DATA, Queued::Yes)),
        WebSocketError::InvalidOpCode(_) => Some((CLOSE_UNSUPPORTED_DATA, Queued::Yes)),
        error if error.is_protocol_error() => Some((CLOSE_PROTOCOL_ERROR, Queued::Yes)),
        // A compressed message that does not inflate.
        WebSocketError::IoError(error) if error.kind() == std::io::ErrorKind::InvalidInput => {
            Some((CLOSE_INTERNAL_ERROR, Queued::Yes))
        }
        _ => None,
    }
}

/// Run an established websocket; returns the close code and reason the interface is told.
pub(crate) async fn drive<S, I>(
    stream: Connection<S>,
    mut commands: mpsc::Receiver<Command>,
    inbox: &I,
    limits: &WebsocketLimits,
    shutdown: Option<ShutdownWatch>,
) -> (u16, String)
where
    S: AsyncRead + AsyncWrite + Unpin,
    I: Inbox,
{
    let (mut sink, mut source) = stream.split();
    let activity = Activity::new();
    let mut reader = Box::pin(read_loop(&mut source, inbox, &activity));
    let mut writer = Box::pin(write_loop(&mut sink, &mut commands, &activity, limits, shutdown));
    let end = tokio::select! {
        end = &mut reader => End::Read(end),
        end = &mut writer => End::Write(end),
    };
    drop(writer);
    match end {
        End::Read(ReadEnd::Closed(code, reason)) => (code, reason),
        End::Read(ReadEnd::Violation { code, queued }) => {
            drop(reader);
            let _ = tokio::time::timeout(limits.close_timeout, fail(&mut sink, &mut source, code, queued)).await;
            (code, String::new())
        }
        // Our close frame went out: the peer's answer ends the handshake (RFC 6455 §7.1.2).
        End::Write(WriteEnd::Closing(code, reason)) => {
            let _ = tokio::time::timeout(limits.close_timeout, &mut reader).await;
            (code, reason)
        }
        // A peer that does not read would not read a close frame either.
        End::Write(WriteEnd::Idle | WriteEnd::Stalled) => (CLOSE_ABNORMAL, String::new()),
        // A write failed: reading tells why (the peer's close, or a lost connection).
        End::Write(WriteEnd::Broken) => match tokio::time::timeout(limits.close_timeout, &mut reader).await {
            Ok(ReadEnd::Closed(code, reason)) => (code, reason),
            Ok(ReadEnd::Violation { code, .. }) => (code, String::new()),
            Err(_) => (CLOSE_ABNORMAL, String::new()),
        },
    }
}

/// Send the close frame that fails the connection: yawc sends the one it queued on the next
/// read (which then ends at once); the driver's own goes through the sink.
async fn fail<S>(sink: &mut Writer<S>, source: &mut Reader<S>, code: u16, queued: Queued)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match queued {
        Queued::Yes => {
            let _ = source.next().await;
        }
        // Once yawc has queued a close, a read sends it and reports the connection closed
        // without taking anything more. Otherwise a read takes the next frame, which may make
        // yawc close in turn (a close frame it answers, a frame breaking a codec rule): read
        // on until yawc has closed or nothing more has arrived, and send the close only then,
        // or the peer gets two.
        Queued::Maybe => loop {
            match source.next().now_or_never() {
                Some(Some(Err(WebSocketError::ConnectionClosed)) | None) => return,
                Some(Some(Ok(_))) => {}
                Some(Some(Err(error))) if violation(&error).is_some() => {}
                // The connection is lost.
                Some(Some(Err(_))) => return,
                None => {
                    let _ = sink.send(close_frame(code, "")).await;
                    return;
                }
            }
            // A peer that keeps sending is bounded by the caller's close timeout.
            tokio::task::yield_now().await;
        },
        Queued::No => {
            let _ = sink.send(close_frame(code, "")).await;
        }
    }
}

async fn read_loop<S, I>(source: &mut Reader<S>, inbox: &I, activity: &Activity) -> ReadEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
    I: Inbox,
{
    let mut peer_close: Option<(u16, String)> = None;
    loop {
        let item = source.next().await;
        activity.seen();
        let frame = match item {
            Some(Ok(frame)) => frame,
            Some(Err(error)) => {
                return match violation(&error) {
                    Some((code, queued)) if peer_close.is_none() => ReadEnd::Violation { code, queued },
                    // The stream ends after the closing handshake, or when the connection is lost.
                    _ => {
                        let (code, reason) = peer_close.take().unwrap_or((CLOSE_ABNORMAL, String::new()));
                        ReadEnd::Closed(code, reason)
                    }
                };
            }
            None => return ReadEnd::Closed(CLOSE_ABNORMAL, String::new()),
        };
        let message = match frame.opcode() {
            OpCode::Text => match Utf8Bytes::try_from(frame.into_payload()) {
                Ok(text) => Message::Text(text),
                Err(_) => {
                    return ReadEnd::Violation {
                        code: CLOSE_INVALID_DATA,
                        queued: Queued::No,
                    };
                }
            },
            OpCode::Binary => Message::Binary(frame.into_payload()),
            OpCode::Close => {
                let close = match frame.close_code() {
                    Some(code) => (
                        u16::from(code),
                        frame.close_reason().ok().flatten().unwrap_or_default().to_owned(),
                    ),
                    None => (CLOSE_NO_STATUS, String::new()),
                };
                // The peer answered the server's close: the handshake is complete.
                if activity.closing.load(Ordering::Relaxed) {
                    return ReadEnd::Closed(close.0, close.1);
                }
                // yawc queues the answering close frame; the next read sends it and then ends
                // the stream.
                peer_close = Some(close);
                continue;
            }
            // yawc answers pings itself and reassembles fragments; any frame shows the peer
            // is alive.
            OpCode::Ping | OpCode::Pong | OpCode::Continuation => continue,
        };
        activity.paused.store(true, Ordering::Relaxed);
        inbox.message(message).await;
        activity.paused.store(false, Ordering::Relaxed);
        activity.seen();
    }
}

async fn write_loop<S>(
    sink: &mut Writer<S>,
    commands: &mut mpsc::Receiver<Command>,
    activity: &Activity,
    limits: &WebsocketLimits,
    mut shutdown: Option<ShutdownWatch>,
) -> WriteEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ping_sent: Option<Instant> = None;
    loop {
        let deadline = limits.ping_interval.map(|interval| match ping_sent {
            Some(sent) => sent + limits.ping_timeout,
            None => activity.last_seen() + interval,
        });
        let draining = async {
            match shutdown.as_mut() {
                Some(watch) => watch.reached(Phase::Draining).await,
                None => std::future::pending().await,
            }
        };
        let timer = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Send(message)) => {
                    let frame = match message {
                        Message::Text(text) => Frame::text(text.into_bytes()),
                        Message::Binary(data) => Frame::binary(data),
                    };
                    // Consecutive messages go out in one flush.
                    let sent = if commands.is_empty() {
                        sink.send(frame).await
                    } else {
                        sink.feed(frame).await
                    };
                    if let Err(error) = sent {
                        return WriteEnd::failed(&error);
                    }
                }
                Some(Command::Close { code, reason }) => return close(sink, activity, code, reason).await,
                None => return close(sink, activity, CLOSE_NORMAL, String::new()).await,
            },
            () = draining => {
                return close(sink, activity, CLOSE_GOING_AWAY, "server shutting down".to_owned()).await;
            }
            () = timer => match ping_sent {
                Some(sent) if !activity.paused.load(Ordering::Relaxed) && activity.last_seen() <= sent => {
                    return WriteEnd::Idle;
                }
                Some(_) => ping_sent = None,
                None => {
                    if let Err(error) = sink.send(Frame::ping(Bytes::new())).await {
                        return WriteEnd::failed(&error);
                    }
                    ping_sent = Some(Instant::now());
                }
            },
        }
    }
}

async fn close<S>(sink: &mut Writer<S>, activity: &Activity, code: u16, reason: String) -> WriteEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Set first: a close frame from the peer read from now on answers this one, and yawc's
    // echo of it must not go out as a second close frame.
    activity.closing.store(true, Ordering::Relaxed);
    match sink.send(close_frame(code, &reason)).await {
        Ok(()) => WriteEnd::Closing(code, reason),
        Err(error) => WriteEnd::failed(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use yawc::Options;

    #[derive(Default)]
    struct Recorder {
        messages: Mutex<Vec<Message>>,
        closed: Mutex<Option<(u16, String)>>,
    }

    impl Inbox for Recorder {
        fn message(&self, message: Message) -> impl Future<Output = ()> + Send {
            self.messages.lock().unwrap().push(message);
            std::future::ready(())
        }

        fn closed(&self, code: u16, reason: &str) {
            *self.closed.lock().unwrap() = Some((code, reason.to_owned()));
        }
    }

    type Client = WebSocket<tokio::io::DuplexStream>;

    fn limits() -> WebsocketLimits {
        WebsocketLimits {
            max_message_size: 1024,
            ping_interval: Some(Duration::from_millis(100)),
            ping_timeout: Duration::from_millis(100),
            close_timeout: Duration::from_millis(500),
            send_timeout: Some(Duration::from_secs(2)),
            deflate: true,
        }
    }

    const DEFLATE: PerMessageDeflate = PerMessageDeflate {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: None,
    };

    /// A server end and a yawc client, both running with `deflate` when given.
    fn pair_with(
        limits: &WebsocketLimits,
        server_deflate: Option<PerMessageDeflate>,
        client_deflate: Option<PerMessageDeflate>,
    ) -> (Connection<BoundedWrites<tokio::io::DuplexStream>>, Client) {
        let (server, client) = tokio::io::duplex(256 * 1024);
        let server = open(server, limits, server_deflate.as_ref()).unwrap();
        let answer = client_deflate.map(|deflate| deflate.to_string());
        let options = Options::default().with_limits(1 << 24, 1 << 24);
        let options = if client_deflate.is_some() {
            options.with_compression_level(yawc::CompressionLevel::default())
        } else {
            options
        };
        let client = WebSocket::from_stream_with_extensions(client, Role::Client, answer.as_deref(), options).unwrap();
        (server, client)
    }

    fn pair(limits: &WebsocketLimits) -> (Connection<BoundedWrites<tokio::io::DuplexStream>>, Client) {
        pair_with(limits, None, None)
    }

    fn close_code(frame: &Frame) -> Option<u16> {
        (frame.opcode() == OpCode::Close).then(|| frame.close_code().map(u16::from))?
    }

    #[tokio::test]
    async fn messages_both_ways_then_the_client_closes() {
        let limits = limits();
        let (server, mut client) = pair(&limits);
        let (tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        let peer = async {
            client.send(Frame::text("hi")).await.unwrap();
            client
                .send(Frame::binary(Bytes::from_static(b"\x00\x01")))
                .await
                .unwrap();
            // Fragments are reassembled into one message.
            client.send(Frame::text("frag").with_fin(false)).await.unwrap();
            client.send(Frame::continuation("ments")).await.unwrap();
            tx.send(Command::Send(Message::Text("back".into()))).await.unwrap();
            let echoed = client.next().await.unwrap();
            assert_eq!(
                (echoed.opcode(), echoed.payload().as_ref()),
                (OpCode::Text, &b"back"[..])
            );
            client.send(close_frame(4002, "bye")).await.unwrap();
            // The server answers the close frame, then ends the connection.
            let answer = client.next().await.unwrap();
            assert_eq!(close_code(&answer), Some(4002));
        };
        let (outcome, ()) = tokio::join!(drive(server, rx, &inbox, &limits, None), peer);
        assert_eq!(outcome, (4002, "bye".to_owned()));
        assert_eq!(
            *inbox.messages.lock().unwrap(),
            [
                Message::Text("hi".into()),
                Message::Binary(Bytes::from_static(b"\x00\x01")),
                Message::Text("fragments".into()),
            ]
        );
    }

    #[tokio::test]
    async fn server_close_and_dropped_sender() {
        let limits = limits();
        let (server, mut client) = pair(&limits);
        let (tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        let peer = async {
            tx.send(Command::Close {
                code: 4001,
                reason: "x".repeat(200),
            })
            .await
            .unwrap();
            let frame = client.next().await.unwrap();
            assert_eq!(close_code(&frame), Some(4001));
            assert_eq!(frame.close_reason().unwrap().unwrap().len(), MAX_REASON);
            // The client answers; its stream then ends.
            while client.next().await.is_some() {}
        };
        let (outcome, ()) = tokio::join!(drive(server, rx, &inbox, &limits, None), peer);
        assert_eq!(outcome.0, 4001);

        let (server, mut client) = pair(&limits);
        let (tx, rx) = mpsc::channel::<Command>(4);
        drop(tx);
        let peer = async {
            let frame = client.next().await.unwrap();
            assert_eq!(close_code(&frame), Some(CLOSE_NORMAL));
            // Exactly one close frame comes from the server.
            while let Some(frame) = client.next().await {
                assert_ne!(frame.opcode(), OpCode::Close);
            }
        };
        let (outcome, ()) = tokio::join!(drive(server, rx, &inbox, &limits, None), peer);
        assert_eq!(outcome.0, CLOSE_NORMAL);
    }

    /// The close code the server fails the connection with when `send` reaches it.
    async fn violation(limits: &WebsocketLimits, client_deflate: bool, frames: Vec<Frame>) -> (u16, Vec<Message>) {
        let deflate = client_deflate.then_some(DEFLATE);
        let server_deflate = if limits.deflate { deflate } else { None };
        let (server, mut client) = pair_with(limits, server_deflate, deflate);
        let (_tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        let peer = async {
            for frame in frames {
                client.send(frame).await.unwrap();
            }
            let frame = client.next().await.unwrap();
            close_code(&frame).unwrap()
        };
        let (outcome, code) = tokio::join!(drive(server, rx, &inbox, limits, None), peer);
        assert_eq!(outcome.0, code);
        (code, inbox.messages.into_inner().unwrap())
    }

    #[tokio::test]
    async fn oversize_messages_close_with_1009() {
        let limits = limits();
        let exact = Frame::binary(vec![0u8; 1024]);
        let (code, messages) = violation(&limits, false, vec![exact, Frame::binary(vec![0u8; 1025])]).await;
        assert_eq!(code, CLOSE_TOO_BIG);
        assert_eq!(messages, [Message::Binary(Bytes::from(vec![0u8; 1024]))]);
        // Fragments add up to the message.
        let fragments = vec![
            Frame::binary(vec![0u8; 600]).with_fin(false),
            Frame::continuation(vec![0u8; 600]),
        ];
        let (code, messages) = violation(&limits, false, fragments).await;
        assert_eq!(code, CLOSE_TOO_BIG);
        assert!(messages.is_empty());
    }

    #[tokio::test]
    async fn broken_rules_close_with_their_codes() {
        let limits = limits();
        let (code, _) = violation(&limits, false, vec![Frame::text(&b"\xff\xfe"[..])]).await;
        assert_eq!(code, CLOSE_INVALID_DATA);
        // A continuation without a first fragment.
        let (code, _) = violation(&limits, false, vec![Frame::continuation("x")]).await;
        assert_eq!(code, CLOSE_PROTOCOL_ERROR);
        // A compressed frame (RSV1) on a connection that did not agree on compression.
        let plain = WebsocketLimits {
            deflate: false,
            ..limits.clone()
        };
        let (code, _) = violation(&plain, true, vec![Frame::text("compressed")]).await;
        assert_eq!(code, CLOSE_PROTOCOL_ERROR);
    }

    #[tokio::test]
    async fn deflate_round_trips() {
        let limits = WebsocketLimits {
            max_message_size: 1 << 20,
            ..limits()
        };
        for deflate in [
            DEFLATE,
            PerMessageDeflate {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: Some(15),
            },
        ] {
            let (server, mut client) = pair_with(&limits, Some(deflate), Some(deflate));
            let (tx, rx) = mpsc::channel(4);
            let inbox = Recorder::default();
            let text = "compressible ".repeat(50_000);
            let peer = async {
                for _ in 0..2 {
                    client.send(Frame::text(text.clone())).await.unwrap();
                    client.send(Frame::binary(vec![7u8; 1 << 19])).await.unwrap();
                }
                tx.send(Command::Send(Message::Text(text.clone().into())))
                    .await
                    .unwrap();
                tx.send(Command::Send(Message::Text(text.clone().into())))
                    .await
                    .unwrap();
                for _ in 0..2 {
                    let echoed = client.next().await.unwrap();
                    assert_eq!(echoed.payload().as_ref(), text.as_bytes());
                }
                client.send(close_frame(CLOSE_NORMAL, "")).await.unwrap();
                while client.next().await.is_some() {}
            };
            let (outcome, ()) = tokio::join!(drive(server, rx, &inbox, &limits, None), peer);
            assert_eq!(outcome.0, CLOSE_NORMAL);
            let messages = inbox.messages.into_inner().unwrap();
            assert_eq!(messages.len(), 4);
            assert_eq!(messages[0], Message::Text(text.clone().into()));
            assert_eq!(messages[3], Message::Binary(Bytes::from(vec![7u8; 1 << 19])));
        }
    }

    #[tokio::test]
    async fn decompression_stops_at_the_message_limit() {
        let limits = limits();
        // 1 MiB of zeros deflates to about a kilobyte: below the limit on the wire, far above
        // it inflated.
        let (code, messages) = violation(&limits, true, vec![Frame::binary(vec![0u8; 1 << 20])]).await;
        assert_eq!(code, CLOSE_TOO_BIG);
        assert!(messages.is_empty());
        let (code, messages) = violation(&limits, true, vec![Frame::binary(vec![0u8; 64 * 1024])]).await;
        assert_eq!(code, CLOSE_TOO_BIG);
        assert!(messages.is_empty());
    }

    #[tokio::test]
    async fn silent_peers_are_dropped_and_live_ones_kept() {
        let limits = limits();
        // A client that never reads never answers the pings.
        let (server, _client) = pair(&limits);
        let (_tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        let outcome = tokio::time::timeout(Duration::from_secs(5), drive(server, rx, &inbox, &limits, None)).await;
        assert_eq!(outcome.unwrap().0, CLOSE_ABNORMAL);

        // A client that reads (and so answers pings) stays.
        let (server, mut client) = pair(&limits);
        let (_tx, rx) = mpsc::channel(4);
        let peer = async {
            let reading = async { while client.next().await.is_some() {} };
            let _ = tokio::time::timeout(Duration::from_millis(600), reading).await;
        };
        let driving = drive(server, rx, &inbox, &limits, None);
        tokio::select! {
            outcome = driving => panic!("a live peer was dropped: {outcome:?}"),
            () = peer => {}
        }
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_is_dropped_after_the_send_timeout() {
        let limits = WebsocketLimits {
            ping_interval: None,
            send_timeout: Some(Duration::from_millis(200)),
            ..limits()
        };
        // The client never reads: once the connection's buffer is full, writes wait.
        let (server, _client) = pair(&limits);
        let (tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        let feeder = tokio::spawn(async move {
            let message = || Command::Send(Message::Binary(Bytes::from(vec![0u8; 64 * 1024])));
            let mut sent = 0;
            while tx.send(message()).await.is_ok() {
                sent += 1;
            }
            sent
        });
        let started = Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(5), drive(server, rx, &inbox, &limits, None)).await;
        assert_eq!(outcome.unwrap(), (CLOSE_ABNORMAL, String::new()));
        assert!(started.elapsed() >= Duration::from_millis(200));
        // The application's sends fail once the connection is over, instead of waiting.
        let sent = tokio::time::timeout(Duration::from_secs(5), feeder)
            .await
            .unwrap()
            .unwrap();
        assert!(sent >= 4, "{sent}");
    }

    #[tokio::test]
    async fn a_vanished_peer_ends_the_connection() {
        let limits = WebsocketLimits {
            ping_interval: None,
            ..limits()
        };
        let (server, client) = pair(&limits);
        let (_tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        drop(client);
        let outcome = tokio::time::timeout(Duration::from_secs(5), drive(server, rx, &inbox, &limits, None)).await;
        assert_eq!(outcome.unwrap(), (CLOSE_ABNORMAL, String::new()));
    }
}
