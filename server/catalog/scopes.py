"""The registry of unified scopes: ours, mapped per integration to the provider's own."""

from __future__ import annotations

UNIFIED_SCOPES: dict[str, str] = {
    "crm_contact_read": "Read CRM contacts and people",
    "crm_contact_write": "Create and update CRM contacts",
    "crm_deal_read": "Read deals and opportunities",
    "crm_company_read": "Read companies, accounts and organizations",
    "commerce_item_read": "Read products and catalog items",
    "commerce_order_read": "Read orders",
    "accounting_invoice_read": "Read invoices",
    "hris_employee_read": "Read employees",
    "ats_candidate_read": "Read candidates and applications",
    "messaging_message_read": "Read messages (chat or email)",
    "calendar_event_read": "Read calendar events",
    "storage_file_read": "Read files",
    "ticketing_ticket_read": "Read support tickets and issues",
    "repo_read": "Read source repositories",
    "task_read": "Read tasks, issues and projects",
    "user_profile": "Basic identity of the connecting user",
}
