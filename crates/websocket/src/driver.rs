use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use granian_serve::{Phase, ShutdownWatch};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use crate::message::{CLOSE_ABNORMAL, CLOSE_NO_STATUS, CLOSE_NORMAL};
use crate::{Command, Message, Utf8Bytes, WebsocketLimits};

/// RFC 6455 §7.4.1: the endpoint is going away (the server drains).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_INVALID_DATA: u16 = 1007;
const CLOSE_TOO_BIG: u16 = 1009;
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
    limits: WebsocketLimits,
}

impl Pending {
    pub(crate) fn new(on_upgrade: OnUpgrade, shutdown: Option<ShutdownWatch>, limits: WebsocketLimits) -> Self {
        Self {
            on_upgrade,
            shutdown,
            limits,
        }
    }

    /// Once the protocol layer has handed the connection over, run it: `commands` to the
    /// client, messages from it to `inbox`, until either side closes or the peer is lost. A
    /// dropped `commands` sender closes the connection normally (1000).
    pub async fn run<I: Inbox>(self, commands: mpsc::Receiver<Command>, inbox: Arc<I>) {
        let (code, reason) = match self.on_upgrade.await {
            Ok(upgraded) => {
                let config = self.limits.config();
                let stream = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                drive(stream, commands, &*inbox, &self.limits, self.shutdown).await
            }
            // The client left before the handshake response went out.
            Err(_) => (CLOSE_ABNORMAL, String::new()),
        };
        inbox.closed(code, &reason);
    }
}

/// When the peer was last heard from, and whether reading is paused on the application (which
/// must not count as the peer being silent).
struct Activity {
    origin: Instant,
    last_seen: AtomicU64,
    paused: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            last_seen: AtomicU64::new(0),
            paused: AtomicBool::new(false),
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
    /// The peer broke a rule: close with this code.
    Violation(u16),
}

/// How writing ended.
enum WriteEnd {
    /// A close frame with this code and reason went out.
    Closing(u16, String),
    /// Nothing arrived from the peer in time after a ping.
    Idle,
    /// The connection failed.
    Broken,
}

enum End {
    Read(ReadEnd),
    Write(WriteEnd),
}

type Source<S> = SplitStream<WebSocketStream<S>>;
type Sink<S> = SplitSink<WebSocketStream<S>, WsMessage>;

fn close_frame(code: u16, reason: &str) -> WsMessage {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    WsMessage::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(&reason[..end]),
    }))
}

/// Run an established websocket; returns the close code and reason the interface is told.
pub(crate) async fn drive<S, I>(
    stream: WebSocketStream<S>,
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
    let mut reader = std::pin::pin!(read_loop(&mut source, inbox, &activity));
    let mut writer = Box::pin(write_loop(&mut sink, &mut commands, &activity, limits, shutdown));
    let end = tokio::select! {
        end = &mut reader => End::Read(end),
        end = &mut writer => End::Write(end),
    };
    drop(writer);
    match end {
        End::Read(ReadEnd::Closed(code, reason)) => (code, reason),
        End::Read(ReadEnd::Violation(code)) => {
            let _ = tokio::time::timeout(limits.close_timeout, sink.send(close_frame(code, ""))).await;
            (code, String::new())
        }
        // Our close frame went out: the peer's answer ends the handshake (RFC 6455 §7.1.2).
        End::Write(WriteEnd::Closing(code, reason)) => {
            let _ = tokio::time::timeout(limits.close_timeout, &mut reader).await;
            (code, reason)
        }
        End::Write(WriteEnd::Idle) => (CLOSE_ABNORMAL, String::new()),
        // A write failed: reading tells why (the peer's close, or a lost connection).
        End::Write(WriteEnd::Broken) => match tokio::time::timeout(limits.close_timeout, &mut reader).await {
            Ok(ReadEnd::Closed(code, reason)) => (code, reason),
            Ok(ReadEnd::Violation(code)) => (code, String::new()),
            Err(_) => (CLOSE_ABNORMAL, String::new()),
        },
    }
}

async fn read_loop<S, I>(source: &mut Source<S>, inbox: &I, activity: &Activity) -> ReadEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
    I: Inbox,
{
    let mut peer_close: Option<(u16, String)> = None;
    loop {
        let item = source.next().await;
        activity.seen();
        let message = match item {
            Some(Ok(WsMessage::Text(text))) => Message::Text(text),
            Some(Ok(WsMessage::Binary(data))) => Message::Binary(data),
            // tungstenite answers pings itself; any frame shows the peer is alive.
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => continue,
            Some(Ok(WsMessage::Close(frame))) => {
                // tungstenite queues the answering close frame; the next read sends it and
                // then ends the stream.
                peer_close = Some(frame.map_or((CLOSE_NO_STATUS, String::new()), |frame| {
                    (u16::from(frame.code), frame.reason.as_str().to_owned())
                }));
                continue;
            }
            Some(Err(WsError::Capacity(_))) => return ReadEnd::Violation(CLOSE_TOO_BIG),
            Some(Err(WsError::Utf8(_))) => return ReadEnd::Violation(CLOSE_INVALID_DATA),
            Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                return ReadEnd::Closed(CLOSE_ABNORMAL, String::new());
            }
            Some(Err(WsError::Protocol(_))) if peer_close.is_none() => return ReadEnd::Violation(CLOSE_PROTOCOL_ERROR),
            // The stream ends after the closing handshake, or when the connection is lost.
            None | Some(Err(_)) => {
                let (code, reason) = peer_close.take().unwrap_or((CLOSE_ABNORMAL, String::new()));
                return ReadEnd::Closed(code, reason);
            }
        };
        activity.paused.store(true, Ordering::Relaxed);
        inbox.message(message).await;
        activity.paused.store(false, Ordering::Relaxed);
        activity.seen();
    }
}

async fn write_loop<S>(
    sink: &mut Sink<S>,
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
                        Message::Text(text) => WsMessage::Text(text),
                        Message::Binary(data) => WsMessage::Binary(data),
                    };
                    // Consecutive messages go out in one flush.
                    let sent = if commands.is_empty() {
                        sink.send(frame).await
                    } else {
                        sink.feed(frame).await
                    };
                    if sent.is_err() {
                        return WriteEnd::Broken;
                    }
                }
                Some(Command::Close { code, reason }) => return close(sink, code, reason).await,
                None => return close(sink, CLOSE_NORMAL, String::new()).await,
            },
            () = draining => return close(sink, CLOSE_GOING_AWAY, "server shutting down".to_owned()).await,
            () = timer => match ping_sent {
                Some(sent) if !activity.paused.load(Ordering::Relaxed) && activity.last_seen() <= sent => {
                    return WriteEnd::Idle;
                }
                Some(_) => ping_sent = None,
                None => {
                    if sink.send(WsMessage::Ping(bytes::Bytes::new())).await.is_err() {
                        return WriteEnd::Broken;
                    }
                    ping_sent = Some(Instant::now());
                }
            },
        }
    }
}

async fn close<S>(sink: &mut Sink<S>, code: u16, reason: String) -> WriteEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match sink.send(close_frame(code, &reason)).await {
        Ok(()) => WriteEnd::Closing(code, reason),
        Err(_) => WriteEnd::Broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::Mutex;

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

    fn limits() -> WebsocketLimits {
        WebsocketLimits {
            max_message_size: 1024,
            ping_interval: Some(Duration::from_millis(100)),
            ping_timeout: Duration::from_millis(100),
            close_timeout: Duration::from_millis(500),
        }
    }

    async fn pair(
        limits: &WebsocketLimits,
    ) -> (
        WebSocketStream<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (server, client) = tokio::io::duplex(256 * 1024);
        let server = WebSocketStream::from_raw_socket(server, Role::Server, Some(limits.config())).await;
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        (server, client)
    }

    #[tokio::test]
    async fn messages_both_ways_then_the_client_closes() {
        let limits = limits();
        let (server, mut client) = pair(&limits).await;
        let (tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        let peer = async {
            client.send(WsMessage::Text("hi".into())).await.unwrap();
            client
                .send(WsMessage::Binary(Bytes::from_static(b"\x00\x01")))
                .await
                .unwrap();
            tx.send(Command::Send(Message::Text("back".into()))).await.unwrap();
            let echoed = client.next().await.unwrap().unwrap();
            assert_eq!(echoed, WsMessage::Text("back".into()));
            client.send(close_frame(4002, "bye")).await.unwrap();
            // The server answers the close frame, then ends the connection.
            let answer = client.next().await.unwrap().unwrap();
            assert!(matches!(answer, WsMessage::Close(Some(ref frame)) if u16::from(frame.code) == 4002));
        };
        let (outcome, ()) = tokio::join!(drive(server, rx, &inbox, &limits, None), peer);
        assert_eq!(outcome, (4002, "bye".to_owned()));
        assert_eq!(
            *inbox.messages.lock().unwrap(),
            [
                Message::Text("hi".into()),
                Message::Binary(Bytes::from_static(b"\x00\x01"))
            ]
        );
    }

    #[tokio::test]
    async fn server_close_and_dropped_sender() {
        let limits = limits();
        let (server, mut client) = pair(&limits).await;
        let (tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        let peer = async {
            tx.send(Command::Close {
                code: 4001,
                reason: "x".repeat(200),
            })
            .await
            .unwrap();
            let frame = client.next().await.unwrap().unwrap();
            let WsMessage::Close(Some(frame)) = frame else {
                panic!("expected a close frame, got {frame:?}");
            };
            assert_eq!(u16::from(frame.code), 4001);
            assert_eq!(frame.reason.len(), MAX_REASON);
            // The client answers; its stream then ends.
            while client.next().await.is_some() {}
        };
        let (outcome, ()) = tokio::join!(drive(server, rx, &inbox, &limits, None), peer);
        assert_eq!(outcome.0, 4001);

        let (server, mut client) = pair(&limits).await;
        let (tx, rx) = mpsc::channel::<Command>(4);
        drop(tx);
        let peer = async {
            let frame = client.next().await.unwrap().unwrap();
            assert!(matches!(frame, WsMessage::Close(Some(ref f)) if u16::from(f.code) == CLOSE_NORMAL));
            while client.next().await.is_some() {}
        };
        let (outcome, ()) = tokio::join!(drive(server, rx, &inbox, &limits, None), peer);
        assert_eq!(outcome.0, CLOSE_NORMAL);
    }

    #[tokio::test]
    async fn oversize_messages_close_with_1009() {
        let limits = limits();
        let (server, mut client) = pair(&limits).await;
        let (_tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        let peer = async {
            client
                .send(WsMessage::Binary(Bytes::from(vec![0u8; 2048])))
                .await
                .unwrap();
            let frame = client.next().await.unwrap().unwrap();
            assert!(matches!(frame, WsMessage::Close(Some(ref f)) if u16::from(f.code) == CLOSE_TOO_BIG));
        };
        let (outcome, ()) = tokio::join!(drive(server, rx, &inbox, &limits, None), peer);
        assert_eq!(outcome.0, CLOSE_TOO_BIG);
        assert!(inbox.messages.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn silent_peers_are_dropped_and_live_ones_kept() {
        let limits = limits();
        // A client that never reads never answers the pings.
        let (server, _client) = pair(&limits).await;
        let (_tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        let outcome = tokio::time::timeout(Duration::from_secs(5), drive(server, rx, &inbox, &limits, None)).await;
        assert_eq!(outcome.unwrap().0, CLOSE_ABNORMAL);

        // A client that reads (and so answers pings) stays.
        let (server, mut client) = pair(&limits).await;
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
    async fn a_vanished_peer_ends_the_connection() {
        let limits = WebsocketLimits {
            ping_interval: None,
            ..limits()
        };
        let (server, client) = pair(&limits).await;
        let (_tx, rx) = mpsc::channel(4);
        let inbox = Recorder::default();
        drop(client);
        let outcome = tokio::time::timeout(Duration::from_secs(5), drive(server, rx, &inbox, &limits, None)).await;
        assert_eq!(outcome.unwrap(), (CLOSE_ABNORMAL, String::new()));
    }
}
