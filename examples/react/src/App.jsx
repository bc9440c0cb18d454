import { LatchkeyButton, LatchkeyConnect } from '@latchkey/react';
import { useState } from 'react';

// Build-time configuration (see README.md): where Latchkey runs and which workspace to open.
const LATCHKEY_URL = import.meta.env.VITE_LATCHKEY_URL || 'http://127.0.0.1:8000';
const WORKSPACE_ID = import.meta.env.VITE_WORKSPACE_ID || 'ws_demo';

// In a real app this is your signed-in user's ID; Latchkey files connections under it.
const USER_ID = 'react-demo-user';

export default function App() {
  const [connections, setConnections] = useState([]);
  const [problem, setProblem] = useState(null);
  const [inline, setInline] = useState(false);

  const options = {
    baseUrl: LATCHKEY_URL,
    workspaceId: WORKSPACE_ID,
    environment: 'sandbox',
    externalXref: USER_ID,
    state: 'react-example',
    onSuccess: (connection) => {
      setProblem(null);
      setConnections((previous) => [connection, ...previous]);
    },
    onError: (error) => setProblem(`${error.code}: ${error.message}`),
    onClose: () => setProblem('The picker was closed before an integration was connected.'),
  };

  return (
    <main>
      <header>
        <h1>Acme CRM</h1>
        <p className="muted">
          A React host app embedding <a href={LATCHKEY_URL}>Latchkey</a> with <code>@latchkey/react</code>,
          workspace <code>{WORKSPACE_ID}</code> (sandbox).
        </p>
      </header>

      <section className="card">
        <h2>Connect your tools</h2>
        <div className="actions">
          <LatchkeyButton {...options} id="connect" className="primary">
            Connect an integration
          </LatchkeyButton>
          <button type="button" id="toggle-inline" onClick={() => setInline((shown) => !shown)}>
            {inline ? 'Hide the inline picker' : 'Show the picker inline'}
          </button>
        </div>
        {problem && (
          <p className="problem" role="alert" id="problem">
            {problem}
          </p>
        )}
        {inline && <LatchkeyConnect {...options} mode="inline" className="inline" id="inline" />}
      </section>

      <section className="card">
        <h2>Connections</h2>
        {connections.length === 0 ? (
          <p className="muted">None yet. Your backend reads each one with GET /api/v1/connections/&#123;id&#125;.</p>
        ) : (
          <ul className="connections" id="connections">
            {connections.map((connection) => (
              <li key={connection.connectionId} data-connection-id={connection.connectionId}>
                <strong>{connection.integration}</strong>
                <code>{connection.connectionId}</code>
                <span className="muted">user {connection.externalXref}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </main>
  );
}
