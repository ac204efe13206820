-- The figure the business watches, from what became of the work: the share of churn-risk accounts
-- whose follow-up task was completed within 7 days of the default sync giving it. It reads the
-- sync's outcomes (written into this warehouse by the sync, schema asana_sync), so it is built after
-- the sync: tagged `outcomes`, it is left out of the warehouse's own build.
{{ config(materialized='table', tags=['outcomes']) }}

SELECT
    count(*) AS accounts,
    count(*) FILTER (WHERE completed AND completed_at - first_synced_at <= INTERVAL 7 DAY) AS followed_up_within_7_days,
    round(count(*) FILTER (WHERE completed AND completed_at - first_synced_at <= INTERVAL 7 DAY) / nullif(count(*), 0), 4)
        AS share,
    count(*) FILTER (WHERE completed AND completed_by IS DISTINCT FROM 'sync-bot@acme.example') AS completed_by_people,
    max(modified_at) AS as_of
FROM {{ source('asana_sync', 'asana_task_outcomes') }}
