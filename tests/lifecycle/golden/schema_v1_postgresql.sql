CREATE TABLE workspaces (
	id VARCHAR(40) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE environments (
	workspace_id VARCHAR(40) NOT NULL, 
	name VARCHAR(20) NOT NULL, 
	api_key_hash VARCHAR(64) NOT NULL, 
	api_key_prefix VARCHAR(20) NOT NULL, 
	allowed_origins TEXT DEFAULT '[]' NOT NULL, 
	allowed_redirect_urls TEXT DEFAULT '[]' NOT NULL, 
	public_mode BOOLEAN DEFAULT false NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (workspace_id, name), 
	FOREIGN KEY(workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE, 
	UNIQUE (api_key_hash)
);
CREATE TABLE activations (
	workspace_id VARCHAR(40) NOT NULL, 
	environment VARCHAR(20) NOT NULL, 
	integration VARCHAR(63) NOT NULL, 
	client_id TEXT, 
	client_secret_enc TEXT, 
	scopes TEXT DEFAULT '[]' NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (workspace_id, environment, integration)
);
CREATE TABLE connections (
	id VARCHAR(40) NOT NULL, 
	workspace_id VARCHAR(40) NOT NULL, 
	environment VARCHAR(20) NOT NULL, 
	integration VARCHAR(63) NOT NULL, 
	external_xref VARCHAR(255) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	status_reason TEXT, 
	scopes_requested TEXT DEFAULT '[]' NOT NULL, 
	scopes_granted TEXT DEFAULT '[]' NOT NULL, 
	provider_scopes TEXT DEFAULT '[]' NOT NULL, 
	partial_grant BOOLEAN DEFAULT false NOT NULL, 
	credentials_enc TEXT NOT NULL, 
	metadata TEXT DEFAULT '{}' NOT NULL, 
	expires_at TIMESTAMP WITH TIME ZONE, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	authorized_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_connection_user UNIQUE (workspace_id, environment, integration, external_xref)
);
CREATE TABLE flows (
	nonce VARCHAR(64) NOT NULL, 
	workspace_id VARCHAR(40) NOT NULL, 
	environment VARCHAR(20) NOT NULL, 
	integration VARCHAR(63) NOT NULL, 
	pkce_verifier_enc TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	consumed_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (nonce)
);
CREATE TABLE widget_results (
	channel_hash VARCHAR(64) NOT NULL, 
	host_origin TEXT, 
	message TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (channel_hash)
);
CREATE TABLE auth_events (
	id SERIAL NOT NULL, 
	workspace_id VARCHAR(40) NOT NULL, 
	environment VARCHAR(20) NOT NULL, 
	integration VARCHAR(63) NOT NULL, 
	external_xref VARCHAR(255), 
	connection_id VARCHAR(40), 
	type VARCHAR(40) NOT NULL, 
	error_code VARCHAR(40), 
	detail TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE sandbox_codes (
	code_hash VARCHAR(64) NOT NULL, 
	client_id VARCHAR(200) NOT NULL, 
	redirect_uri TEXT NOT NULL, 
	code_challenge VARCHAR(128) NOT NULL, 
	scope TEXT NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	used_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (code_hash)
);
CREATE INDEX ix_connections_lookup ON connections (workspace_id, environment, created_at);
CREATE INDEX ix_flows_expires ON flows (expires_at);
CREATE INDEX ix_auth_events_ws ON auth_events (workspace_id, environment, created_at);
