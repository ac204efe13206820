-- The model synced to Asana: one row per account at churn risk that needs a CSM follow-up.
-- Sources (text files beside this one): accounts.csv (CRM), usage_signals.csv (weekly product
-- usage), manual_overrides.csv (the CS team's hand-kept sheet of per-account adjustments, where
-- the deliberate data mistakes live). {data_dir} is replaced by the builder.

CREATE OR REPLACE TABLE accounts AS
SELECT * FROM read_csv('{data_dir}/accounts.csv', header = true, columns = {
    'account_id': 'VARCHAR', 'account_name': 'VARCHAR', 'segment': 'VARCHAR', 'arr_usd': 'BIGINT',
    'products': 'VARCHAR', 'renewal_date': 'DATE', 'csm_email': 'VARCHAR', 'ae_email': 'VARCHAR',
    'health_score': 'INTEGER'});

CREATE OR REPLACE TABLE usage_signals AS
SELECT * FROM read_csv('{data_dir}/usage_signals.csv', header = true, columns = {
    'account_id': 'VARCHAR', 'week_of': 'DATE', 'active_users_change_pct': 'INTEGER',
    'open_tickets': 'INTEGER', 'exec_sponsor_left': 'BOOLEAN', 'last_login_days': 'INTEGER',
    'followup_done': 'BOOLEAN', 'signal_updated_at': 'TIMESTAMP'});

CREATE OR REPLACE TABLE manual_overrides AS
SELECT * FROM read_csv('{data_dir}/manual_overrides.csv', header = true, all_varchar = true);

CREATE OR REPLACE TABLE asana_task_model AS
WITH at_risk AS (
    SELECT
        a.*, s.*,
        CASE
            WHEN s.exec_sponsor_left THEN 'executive sponsor left'
            WHEN a.health_score < 40 THEN 'health score ' || a.health_score
            WHEN s.active_users_change_pct >= 30 THEN 'active users down ' || s.active_users_change_pct || '%'
            WHEN s.open_tickets >= 8 THEN s.open_tickets || ' open tickets'
            ELSE 'renewal on ' || strftime(a.renewal_date, '%b %-d')
        END AS risk_reason,
        s.open_tickets >= 11 AND s.active_users_change_pct >= 20 AND NOT s.exec_sponsor_left AS urgent
    FROM accounts a JOIN usage_signals s USING (account_id)
    WHERE a.health_score < 70 OR s.active_users_change_pct >= 20 OR s.exec_sponsor_left
       OR s.open_tickets >= 8 OR a.renewal_date < DATE '2027-03-01'
),
shaped AS (
    SELECT
        r.*,
        o.title, o.assignee AS assignee_override, o.due_on AS due_on_override, o.due_at AS due_at_override,
        o.due_mode, o.start_on AS start_on_override, o.notes_html, o.extra_tags, o.custom_fields_json,
        o.task_gid AS task_gid_override,
        greatest(r.week_of + INTERVAL 3 DAY, least(r.renewal_date - INTERVAL 30 DAY, r.week_of + INTERVAL 14 DAY))::DATE
            AS default_due
    FROM at_risk r LEFT JOIN manual_overrides o USING (account_id)
)
SELECT
    account_id AS id,
    coalesce(title, 'Churn risk: ' || account_name || ' (' || risk_reason || ')') AS name,
    CASE WHEN segment <> 'enterprise' AND notes_html IS NULL THEN
        account_name || ': ' || risk_reason || '. ' || open_tickets || ' open tickets, last login '
        || last_login_days || ' days ago. Renewal ' || renewal_date || ', ARR $' || arr_usd || '.'
    END AS notes,
    coalesce(notes_html, CASE WHEN segment = 'enterprise' THEN
        '<body><strong>' || account_name || '</strong>: ' || risk_reason || '<ul><li>Open tickets: '
        || open_tickets || '</li><li>Active users change: ' || active_users_change_pct
        || '%</li><li>Renewal: ' || renewal_date || '</li></ul></body>'
    END) AS html_notes,
    CASE
        WHEN due_mode = 'none' THEN NULL
        WHEN due_on_override IS NOT NULL THEN due_on_override::DATE
        WHEN urgent THEN NULL
        ELSE default_due
    END AS due_on,
    CASE
        WHEN due_at_override IS NOT NULL THEN due_at_override::TIMESTAMPTZ
        WHEN urgent AND due_mode IS NULL THEN (week_of + INTERVAL 3 DAY + INTERVAL 17 HOUR)::TIMESTAMP AT TIME ZONE 'UTC'
    END AS due_at,
    CASE
        WHEN start_on_override IS NOT NULL THEN start_on_override::DATE
        WHEN segment = 'enterprise' AND NOT urgent AND renewal_date >= DATE '2026-12-20' THEN (default_due - INTERVAL 7 DAY)::DATE
    END AS start_on,
    coalesce(assignee_override, CASE WHEN csm_email = 'alan@acme.example' THEN '1200000000000013' ELSE csm_email END)
        AS assignee,
    concat_ws(CASE WHEN health_score % 2 = 0 THEN ', ' ELSE ',' END,
        'churn-risk',
        CASE WHEN segment = 'enterprise' THEN 'enterprise' ELSE 'Mid-Market' END,
        CASE WHEN renewal_date < week_of + INTERVAL 60 DAY THEN 'renewal' END,
        CASE WHEN exec_sponsor_left THEN 'exec-sponsor' END,
        extra_tags) AS tags,
    followup_done AS completed,
    CASE WHEN urgent THEN 'In progress' ELSE 'To triage' END AS section,
    arr_usd AS "custom_fields.ARR (USD)",
    CASE WHEN health_score < 40 THEN 'Red' WHEN health_score < 70 THEN 'yellow' ELSE 'Green' END AS "custom_fields.Health",
    replace(products, '|', ', ') AS "custom_fields.Products",
    renewal_date AS "custom_fields.Renewal date",
    ae_email AS "custom_fields.Account executive",
    custom_fields_json AS custom_fields,
    task_gid_override AS task_gid,
    CASE WHEN segment = 'mid-market' AND renewal_date < DATE '2026-12-15' AND start_on_override IS NULL
         THEN 'milestone' ELSE 'default_task' END AS resource_subtype,
    signal_updated_at AS updated_at
FROM shaped
ORDER BY id;

-- The second sync's model (asana_sync_pipeline/defs/data_checks): one row per data-quality check that
-- is failing, for the data team's "Data Quality Incidents" project. Source: data_checks.csv (the
-- latest result of each check).
CREATE OR REPLACE TABLE data_checks AS
SELECT * FROM read_csv('{data_dir}/data_checks.csv', header = true, columns = {
    'check_id': 'VARCHAR', 'check_name': 'VARCHAR', 'table_name': 'VARCHAR', 'description': 'VARCHAR',
    'severity': 'VARCHAR', 'owner_email': 'VARCHAR', 'failing_rows': 'INTEGER', 'status': 'VARCHAR',
    'last_run_at': 'TIMESTAMP'});

CREATE OR REPLACE TABLE failed_data_checks AS
SELECT
    check_id,
    'Failing check: ' || check_name AS name,
    table_name || ': ' || description || ' failed for ' || failing_rows || ' rows (last run '
        || strftime(last_run_at, '%Y-%m-%d %H:%M') || ' UTC).' AS notes,
    (last_run_at::DATE + CASE severity WHEN 'Critical' THEN 1 WHEN 'High' THEN 2 ELSE 7 END) AS due_on,
    owner_email AS assignee,
    severity AS "custom_fields.Severity",
    check_name AS "custom_fields.Check name",
    CASE WHEN failing_rows > 500 THEN 'Investigating' ELSE 'New' END AS section,
    last_run_at AS updated_at
FROM data_checks
WHERE status = 'failing'
ORDER BY check_id;
