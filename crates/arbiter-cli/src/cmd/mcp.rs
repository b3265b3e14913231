//! `arbiter mcp`: the MCP tools on stdio, for an agent on the same machine.
//!
//! The tools are the server's ([`arbiter_server::mcp::tools`]); here their
//! API calls go to the server named by `--server`/`ARBITER_SERVER`, each
//! signed with the agent's key (`--key`/`ARBITER_AGENT_KEY`) by the CLI's
//! client, exactly as `arbiter submit --key` signs. Standard output is the
//! MCP channel: nothing else is ever printed there.

use super::client::{Client, ServerArgs};
use anyhow::{Context, Result};
use arbiter_server::mcp::tools::{ApiAnswer, ApiCall, ArbiterMcp, Backend, BoxFuture};
use clap::Args;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServiceExt};
use std::path::PathBuf;
use std::sync::Arc;

/// `arbiter mcp`.
#[derive(Args, Debug)]
#[command(
    after_help = "An MCP client starts it, e.g. {\"command\": \"arbiter\", \"args\": [\"mcp\"], \"env\": {\"ARBITER_SERVER\": \"https://arbiter.example\", \"ARBITER_AGENT_KEY\": \"/path/agent.key\"}}.\n\
Remote agents can use the server's /mcp endpoint instead, with a bearer token."
)]
pub struct McpArgs {
    /// The agent's private key (from `arbiter agent keygen`); every call is signed with it.
    #[arg(long, value_name = "FILE", env = "ARBITER_AGENT_KEY", global = true)]
    pub key: Option<PathBuf>,
    /// `token`: mint a bearer token for the server's /mcp instead of serving.
    #[command(subcommand)]
    pub cmd: Option<McpCommand>,
}

/// What `arbiter mcp` does besides serving on stdio.
#[derive(clap::Subcommand, Debug)]
pub enum McpCommand {
    /// Mint a short-lived bearer token for the server's /mcp endpoint.
    ///
    /// A signed POST /api/v1/agents/NAME/tokens; prints the token (shown once).
    Token {
        /// The agent's name.
        #[arg(long)]
        agent: String,
        /// Lifetime (60 s to 1 h).
        #[arg(long, default_value = "15m", value_parser = super::client::parse_duration, value_name = "DURATION")]
        ttl: std::time::Duration,
        /// Free text recorded with it (e.g. the MCP client's name).
        #[arg(long)]
        label: Option<String>,
    },
}

/// Signed HTTP calls to the server.
struct Signed(Arc<Client>);

impl Backend for Signed {
    fn send<'a>(
        &'a self,
        _cx: &'a RequestContext<RoleServer>,
        call: ApiCall,
    ) -> BoxFuture<'a, Result<ApiAnswer, String>> {
        Box::pin(async move {
            let a = self
                .0
                .send_async(call.method, &call.path, call.body, &call.headers)
                .await
                .map_err(|e| format!("{e:#}"))?;
            Ok(ApiAnswer {
                status: a.status,
                body: a.body,
            })
        })
    }
}

/// Serves until the client closes standard input.
pub fn run(args: McpArgs, server: &ServerArgs) -> Result<u8> {
    let key = args.key.ok_or_else(|| {
        anyhow::anyhow!("give the agent's private key: --key FILE or ARBITER_AGENT_KEY")
    })?;
    let client = Arc::new(Client::new(server, Some(&key))?);
    if let Some(McpCommand::Token { agent, ttl, label }) = args.cmd {
        let body = arbiter_api::AgentTokenRequest {
            ttl_seconds: Some(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            label,
        };
        let path = format!("/api/v1/agents/{agent}/tokens");
        let t = client.call_with::<_, arbiter_api::AgentToken>("POST", &path, &body)?;
        client.print(&t, |t| {
            format!(
                "{}\n(agent {}, expires {}; send it as `Authorization: Bearer TOKEN` to /mcp)\n",
                t.token.as_deref().unwrap_or("-"),
                t.agent,
                t.expires_at,
            )
        });
        return Ok(0);
    }
    let tools = ArbiterMcp::new(Arc::new(Signed(client.clone())));
    client.block_on(async move {
        let running = tools
            .serve(rmcp::transport::stdio())
            .await
            .context("starting the MCP server on stdio")?;
        running.waiting().await.context("serving MCP on stdio")?;
        Ok(0)
    })
}
