//! A shutdown request shared by every harvest task: checked between pages, so a page's
//! transaction always finishes, and awaited during waits (retries, polling) so they end at once.

use tokio::sync::watch;

/// Asks every [`Shutdown`] cloned from it to stop.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Whether, and when, to stop. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(Option<watch::Receiver<bool>>);

impl ShutdownTrigger {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (sender, receiver) = watch::channel(false);
        (ShutdownTrigger(sender), Shutdown(Some(receiver)))
    }

    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// A shutdown that never comes (one-off walks, tests).
    pub fn never() -> Shutdown {
        Shutdown(None)
    }

    pub fn is_requested(&self) -> bool {
        self.0.as_ref().is_some_and(|receiver| *receiver.borrow())
    }

    /// Resolves when shutdown is requested (or its trigger is dropped).
    pub async fn requested(&self) {
        match &self.0 {
            Some(receiver) => {
                let _ = receiver.clone().wait_for(|stop| *stop).await;
            }
            None => std::future::pending().await,
        }
    }
}
