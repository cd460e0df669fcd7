// The web console: xterm.js in the page, its bytes over the console hub (/hubs/console), a SignalR
// connection of its own beside the page's Blazor circuit, signed in by the same cookie.
// The page (ServerConsole.razor) only hosts the element and calls start/stop; this module reports
// the state back through the page's .NET object: connecting, connected, closed, error (with a sentence).

const scripts = ['lib/xterm/xterm.js', 'lib/xterm/addon-fit.js', 'lib/signalr/signalr.min.js'];
const stylesheet = 'lib/xterm/xterm.css';
const consoles = new Map();
let loading = null;

function url(path) {
    return new URL(path, document.baseURI).toString();
}

function loadScript(src) {
    return new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = url(src);
        s.onload = resolve;
        s.onerror = () => reject(new Error('could not load ' + src));
        document.head.appendChild(s);
    });
}

// The libraries are UMD bundles (window.Terminal, window.FitAddon, window.signalR), loaded once, on this page only.
function load() {
    loading ??= (async () => {
        if (!document.querySelector('link[data-xterm]')) {
            const link = document.createElement('link');
            link.rel = 'stylesheet';
            link.href = url(stylesheet);
            link.dataset.xterm = '';
            document.head.appendChild(link);
        }
        for (const src of scripts) {
            await loadScript(src);
        }
    })();
    return loading.catch(e => { loading = null; throw e; });
}

// A hub refusal arrives as "An unexpected error occurred invoking 'Open' on the server. HubException: <sentence>".
function readable(error) {
    const text = (error && error.message) || String(error || '');
    const i = text.indexOf('HubException: ');
    if (i >= 0) {
        return text.substring(i + 'HubException: '.length);
    }
    if (error && error.statusCode === 401) {
        return 'You are signed out; sign in again to use the console.';
    }
    if (/WebSocket|Failed to fetch|Failed to complete negotiation|Failed to start the connection|NetworkError/i.test(text)) {
        return 'The panel could not be reached; check the connection and reconnect.';
    }
    if (/connection (was )?(closed|stopped)/i.test(text)) {
        return 'The connection to the panel closed.';
    }
    return 'The console could not be used; try to reconnect.';
}

// Every line of the terminal's buffer (scrollback included), as text: what a person would read.
function bufferText(term) {
    const buffer = term.buffer.active;
    const lines = [];
    for (let i = 0; i < buffer.length; i++) {
        const line = buffer.getLine(i);
        lines.push(line ? line.translateToString(true) : '');
    }
    return lines.join('\n');
}

function fitQuietly(fit) {
    try {
        fit.fit();
    } catch {
        // not laid out yet
    }
}

/** Opens the console of VPS `vpsId` in `host`; reports state changes to `dotnet.OnStatus(state, message)`. */
export async function start(host, vpsId, dotnet) {
    await stop(host);
    const c = { ended: false, stopped: false, sessionId: null, conn: null, term: null, observer: null };
    consoles.set(host, c);
    const report = (state, message) => {
        if (c.stopped || c.ended) {
            return;
        }
        if (state === 'closed' || state === 'error') {
            c.ended = true;
        }
        c.state = state;
        host.dataset.state = state;
        dotnet.invokeMethodAsync('OnStatus', state, message ?? null).catch(() => { });
    };

    report('connecting');
    try {
        await load();
    } catch {
        report('error', 'The terminal could not be loaded; reload the page.');
        return;
    }
    if (c.stopped) {
        return;
    }

    host.replaceChildren();
    const term = new Terminal({
        cursorBlink: true,
        scrollback: 5000,
        fontFamily: '"DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
        fontSize: 14,
        theme: { background: '#12161b', foreground: '#e6e6e6' },
    });
    const fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(host);
    fitQuietly(fit);
    c.term = term;
    c.observer = new ResizeObserver(() => fitQuietly(fit));
    c.observer.observe(host);
    window.vpsConsole = { text: () => bufferText(term), state: () => c.state, focus: () => term.focus() };

    const conn = new signalR.HubConnectionBuilder()
        .withUrl(url('hubs/console'))
        .configureLogging(signalR.LogLevel.None)
        .build();
    c.conn = conn;
    conn.onclose(error => report(error ? 'error' : 'closed', error ? readable(error) : 'The console closed.'));

    try {
        await conn.start();
        c.sessionId = await conn.invoke('Open', vpsId, term.cols, term.rows);
    } catch (e) {
        report('error', readable(e));
        conn.stop().catch(() => { });
        return;
    }
    if (c.stopped) {
        conn.stop().catch(() => { });
        return;
    }

    conn.stream('Output', c.sessionId).subscribe({
        next: data => term.write(data),
        complete: () => {
            report('closed', 'The console closed (the server stopped, or its console ended).');
            conn.stop().catch(() => { });
        },
        error: e => report('error', readable(e)),
    });
    // Keystrokes in order (the hub runs one call of a connection at a time); a large paste in pieces
    // that stay under the hub's message size.
    term.onData(data => {
        for (let i = 0; i < data.length && !c.ended; i += 4096) {
            conn.invoke('Send', c.sessionId, data.substring(i, i + 4096)).catch(e => report('error', readable(e)));
        }
    });
    term.onResize(size => {
        if (!c.ended) {
            conn.invoke('Resize', c.sessionId, size.cols, size.rows).catch(() => { });
        }
    });
    report('connected');
    term.focus();
}

/** Closes the console shown in `host` (its hub connection and terminal). */
export async function stop(host) {
    const c = consoles.get(host);
    if (!c) {
        return;
    }
    consoles.delete(host);
    c.stopped = true;
    c.observer?.disconnect();
    if (c.conn) {
        await c.conn.stop().catch(() => { });
    }
    c.term?.dispose();
}
